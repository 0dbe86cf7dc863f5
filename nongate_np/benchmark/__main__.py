"""``python -m nongate_np.benchmark [options]``; with ``--worker KIND ARGS_JSON`` (what the
parent process starts), one worker's measurement."""

import sys

if len(sys.argv) == 4 and sys.argv[1] == "--worker":
    from .workers import main as worker_main

    worker_main(sys.argv[2], sys.argv[3])
else:
    from .run import main

    sys.exit(main(prog="python -m nongate_np.benchmark"))
