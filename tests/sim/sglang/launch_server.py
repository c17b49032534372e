"""`python3 -m sglang.launch_server --model-path M ...`"""
import sys

from sglang.sim.main import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], prog="launch_server.py"))
