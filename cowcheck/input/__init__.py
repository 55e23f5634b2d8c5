"""Reading input: scenario files and their schema, rule and property files, the
``--reuse`` language, and where the bundled catalog lives."""
