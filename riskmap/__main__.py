"""Run the command line as ``python -m riskmap``."""

from riskmap.cli import main

if __name__ == "__main__":
    main()
