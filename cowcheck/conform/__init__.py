"""Conformance against real kernels: ``cowcheck conform`` fetches Debian's 5.10, 6.1 and
6.12 kernels (``debian``, ``kernels``), packs a busybox initramfs with their modules and
the reproducers (``initramfs``), boots each under QEMU's TCG with a throttled data disk,
a swap disk and QEMU's edu device behind an emulated IOMMU (``vm``), and compares what
the kernel did with what cowcheck predicts under that kernel's rule."""
