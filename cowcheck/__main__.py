from cowcheck.cli import main

main()
