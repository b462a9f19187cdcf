import sys

from phonegate.cli import main

sys.exit(main())
