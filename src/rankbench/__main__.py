import sys

from rankbench.cli import main

sys.exit(main())
