import sys

from teamgate.cli import main

sys.exit(main())
