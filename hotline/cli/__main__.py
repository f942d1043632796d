"""``python -m hotline.cli …``: how the hotline starts its own service processes."""

from hotline.cli import main

main()
