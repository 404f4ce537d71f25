"""``python -m endobench`` runs the command-line interface."""

from endobench.cli import main

if __name__ == "__main__":
    main()
