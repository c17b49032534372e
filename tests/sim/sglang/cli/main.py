"""The `sglang` console script: `sglang serve [MODEL] [flags]`, `sglang version`."""
import sys


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    usage = "usage: sglang [-h] {serve,version} ...\n"
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(usage + "\npositional arguments:\n  {serve,version}\n    serve     Launch the SGLang server.\n"
                         "    version   Show the version information.\n")
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "serve":
        from sglang.sim.main import main as serve_main
        return serve_main(rest, prog="sglang serve")
    if command == "version":
        from sglang.version import __version__
        sys.stdout.write("sglang version: %s\n" % __version__)
        return 0
    sys.stderr.write(usage + "sglang: error: argument command: invalid choice: '%s' (choose from 'serve', 'version')\n" % command)
    return 2


if __name__ == "__main__":
    sys.exit(main())
