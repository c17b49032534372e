"""sglang_logs.ServerLog: the one reader of a server's log, for sglang_wait and sglang_cache_check."""
from ansible_collections.dgx_station.inference.plugins.module_utils.sglang_logs import ServerLog, tail


class Recorder:
    def __init__(self, answers):
        self.answers = list(answers)
        self.calls = []

    def __call__(self, argv):
        self.calls.append(argv)
        return self.answers.pop(0)


def test_container_tail_and_since_start():
    run = Recorder([(0, "out line\n", "err line\n"), (0, "", "x")])
    log = ServerLog(run, container_name="sglang-server", docker_bin="/usr/bin/docker", scan_lines=10)
    assert log.source == "docker logs sglang-server" and log.readable
    assert log.read() == "out line\n\nerr line\n"
    assert run.calls[0] == ["/usr/bin/docker", "logs", "--tail", "10", "sglang-server"]
    since = ServerLog(run, container_name="c", docker_bin="docker", since_start=True, clock=lambda: 1000.7)
    since.read()
    assert run.calls[1] == ["docker", "logs", "--since", "999", "c"]


def test_container_failures_are_reported_not_raised():
    log = ServerLog(Recorder([(1, "", "No such container: c")]), container_name="c", docker_bin="docker")
    assert log.read() == "" and "No such container" in log.error
    assert ServerLog(Recorder([]), container_name="c").error.startswith("container_name is set")


def test_file_since_start_reads_only_new_lines(tmp_path):
    path = tmp_path / "server.log"
    path.write_text("old\n")
    log = ServerLog(None, log_file=str(path), since_start=True)
    with open(str(path), "a") as handle:
        handle.write("new\n")
    assert log.read() == "new\n"
    whole = ServerLog(None, log_file=str(path), scan_lines=1)
    assert whole.read() == "new"
    missing = ServerLog(None, log_file=str(tmp_path / "none.log"))
    assert missing.read() == "" and "cannot read" in missing.error


def test_container_state():
    run = Recorder([(0, '{"Status":"exited","Running":false,"ExitCode":3}|2\n', ""), (1, "", "No such object")])
    log = ServerLog(run, container_name="c", docker_bin="docker")
    state = log.container_state()
    assert (state["status"], state["running"], state["exit_code"], state["restart_count"]) == ("exited", False, 3, 2)
    assert log.container_state()["exists"] is False


def test_tail():
    assert tail("a\nb\nc", 2) == ["b", "c"] and tail("a", 0) == []
