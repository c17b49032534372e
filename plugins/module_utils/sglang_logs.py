# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one reader of an SGLang server's log: its container's (`docker logs`) or a log file.

sglang_wait reads the tail while a server boots (and the container's state, to stop waiting for a
server that died); sglang_cache_check reads what was written since the check started (the
scheduler's `Prefill batch` lines). `docker logs` writes the container's stdout and stderr to the
matching streams, so both are read; SGLang logs to stderr.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time


class ServerLog:
    """The log of one server, read through run_command(argv) -> (rc, stdout, stderr).

    container_name: read `docker logs` of that container (docker_bin, the CLI); else log_file: read that
    file. since_start=True reads only what was written after this object was made (a file from its size
    then, a container with `--since` one second earlier: older lines are ignored by the callers' matching),
    else the last scan_lines lines. error: why the log cannot be read (None when it can).
    """

    def __init__(self, run_command, container_name=None, log_file=None, docker_bin=None, scan_lines=5000,
                 since_start=False, clock=time.time):
        self.run_command = run_command
        self.container_name = container_name or None
        self.log_file = None if self.container_name else (log_file or None)
        self.docker_bin = docker_bin
        self.scan_lines = scan_lines
        self.since_start = since_start
        self.started = clock()
        self.offset = 0
        self.error = None
        if self.container_name:
            self.source = "docker logs %s" % self.container_name
            if not docker_bin:
                self.error = "container_name is set but the docker CLI is not on PATH"
        elif self.log_file:
            self.source = self.log_file
            if since_start:
                try:
                    self.offset = os.path.getsize(self.log_file)
                except OSError as exc:
                    self.error = "cannot read log_file %s: %s" % (self.log_file, exc)
        else:
            self.source = None

    @property
    def has_log(self):
        return self.source is not None

    @property
    def readable(self):
        return self.source is not None and self.error is None

    def read(self):
        """The log text ("" when it cannot be read now; error says why)."""
        if self.source is None or (self.container_name and not self.docker_bin):
            return ""
        if self.container_name:
            window = (["--since", str(int(self.started) - 1)] if self.since_start
                      else ["--tail", str(self.scan_lines)])
            rc, out, err = self.run_command([self.docker_bin, "logs"] + window + [self.container_name])
            if rc != 0:
                self.error = "docker logs %s failed (rc %d): %s" % (self.container_name, rc, (err or out or "").strip())
                return ""
            self.error = None
            return (out or "") + ("\n" if out and err else "") + (err or "")
        try:
            with open(self.log_file, "rb") as handle:
                if self.since_start:
                    handle.seek(self.offset)
                    text = handle.read().decode("utf-8", "replace")
                else:
                    text = "\n".join(handle.read().decode("utf-8", "replace").splitlines()[-self.scan_lines:])
            self.error = None
            return text
        except (IOError, OSError) as exc:
            self.error = "cannot read log_file %s: %s" % (self.log_file, exc)
            return ""

    def container_state(self):
        """dict(exists, status, running, restarting, exit_code, restart_count, error) of the container."""
        rc, out, err = self.run_command(
            [self.docker_bin, "inspect", "--format", "{{json .State}}|{{.RestartCount}}", self.container_name])
        if rc != 0:
            return dict(exists=False, status="missing", running=False, restarting=False, exit_code=None,
                        restart_count=0, error=(err or "").strip())
        raw_state, sep, restarts = (out or "").strip().rpartition("|")
        try:
            state = json.loads(raw_state) if sep else {}
        except ValueError:
            state = {}
        try:
            restart_count = int(restarts)
        except ValueError:
            restart_count = 0
        return dict(exists=True, status=state.get("Status", "unknown"), running=bool(state.get("Running")),
                    restarting=bool(state.get("Restarting")), exit_code=state.get("ExitCode"),
                    restart_count=restart_count, error=state.get("Error") or "")


def tail(text, count):
    """The last count lines of text ([] for count <= 0)."""
    lines = (text or "").splitlines()
    return lines[-count:] if count > 0 else []
