import signal
import sys

# From the first moment, SIGTERM is a Ctrl-C: a signal during the imports ends the program with 130, quietly.
signal.signal(signal.SIGTERM, signal.default_int_handler)
try:
    from .cli import main
except KeyboardInterrupt:
    sys.exit(130)

raise SystemExit(main())
