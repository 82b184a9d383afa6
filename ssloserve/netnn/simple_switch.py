"""One BMv2 ``simple_switch`` process over pcap files, loaded through ``simple_switch_CLI``
(chapter 05, NetNN).

``--use-files N`` makes port ``i`` read ``<i>_in.pcap`` and write ``<i>_out.pcap``, starting
``N`` seconds after the switch starts. The control plane must be loaded by then, or packets
would find no table entries and no multicast group. :func:`run_switch` waits until the
switch's Thrift port accepts a connection (not a fixed sleep), loads the commands, and checks
that they finished within the ``N`` seconds counted from before the port opened; if not, it
reruns the switch with a larger ``N``. It then waits until every port has sent what it
expects, and stops the switch.
"""

from __future__ import annotations

import math
import re
import socket
import subprocess
import time
from pathlib import Path

from ..errors import ToolError
from .pcap import read_pcap, write_pcap

__all__ = ["run_switch"]

_CLI_ERROR = re.compile(r"^(Error|Invalid|.*(error|exception|not found|unknown))", re.I | re.M)


def _wait_for_port(port: int, proc, log: Path, timeout_s: float) -> tuple[float, float]:
    """Wait until the Thrift port accepts; returns (time of the last refusal, time it opened)."""
    t0 = last = time.monotonic()
    while True:
        if proc.poll() is not None:
            raise ToolError(
                f"simple_switch exited with {proc.returncode} before its Thrift port {port} "
                f"opened. Its log ({log}):\n{_tail(log)}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                if s.getsockname() != s.getpeername():  # not a TCP self-connection
                    return last, time.monotonic()
        except OSError:
            pass
        last = time.monotonic()
        if last - t0 > timeout_s:
            raise ToolError(
                f"simple_switch's Thrift port {port} did not open within {timeout_s:.0f} s. "
                f"Its log ({log}):\n{_tail(log)}"
            )
        time.sleep(0.05)


def _tail(path: Path, n: int = 3000) -> str:
    return path.read_text(errors="replace")[-n:] if path.exists() else "(no log)"


def _stop(proc) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_switch(tools, name, json_path, wd, inputs, commands, expect, *, device, timeout_s):
    """Run one simple_switch over pcap files until every port sent what ``expect`` says.

    Parameters
    ----------
    tools : paths of ``simple_switch`` and ``simple_switch_CLI`` (as from ``require_tools``)
    name : the switch's name, for messages
    json_path : the program compiled by p4c
    wd : the switch's folder (pcaps, logs)
    inputs : ``{port: [(sample, frame)]}``, written to ``<port>_in.pcap`` in sample order
    commands : the simple_switch_CLI commands that load its control plane
    expect : ``{port: number of frames}`` it must send before it is stopped
    device : BMv2 device id
    timeout_s : longest wait for the Thrift port, the commands or the output

    Returns
    -------
    A dict: ``sent`` (per port, ``(seconds, frame)`` pairs), ``load s`` (start to Thrift port
    open), ``commands s``, ``use-files N`` and ``commands`` (their number).
    """
    wd.mkdir(parents=True, exist_ok=True)
    for port, items in inputs.items():
        items = sorted(items, key=lambda it: it[0])
        write_pcap(wd / f"{port}_in.pcap", [f for _, f in items], [1000 * s for s, _ in items])
    n_cmds = commands.count("\n") + 1
    mb = json_path.stat().st_size / 1e6
    wait = max(2, math.ceil(1 + n_cmds / 1000 + mb / 2))
    for _attempt in range(4):
        for port in inputs:
            (wd / f"{port}_out.pcap").unlink(missing_ok=True)
        log = wd / "switch.log"
        thrift = _free_port()
        args = [tools["simple_switch"], "--use-files", str(wait), "--thrift-port", str(thrift)]
        args += ["--device-id", str(device), "--notifications-addr", f"ipc://{wd}/notify.ipc"]
        for port in sorted(inputs):
            args += ["-i", f"{port}@{port}"]
        args.append(str(json_path))
        with open(log, "wb") as fh:
            proc = subprocess.Popen(args, cwd=wd, stdout=fh, stderr=subprocess.STDOUT)
        try:
            t_spawn = time.monotonic()
            refused, opened = _wait_for_port(thrift, proc, log, timeout_s)
            cli = subprocess.run(
                [tools["simple_switch_CLI"], "--thrift-port", str(thrift)],
                input=commands.rstrip("\n") + "\nset_queue_depth 1000000\n",
                capture_output=True,
                text=True,
                timeout=timeout_s,
            )
            t_cli = time.monotonic()
            (wd / "cli.log").write_text(cli.stdout + cli.stderr)
            bad = _CLI_ERROR.search(cli.stdout + cli.stderr)
            if cli.returncode != 0 or bad:
                raise ToolError(
                    f"simple_switch_CLI failed on {name}: {(cli.stdout + cli.stderr)[-2000:]}"
                )
            if t_cli - refused >= wait:  # packets may have met an empty control plane
                wait *= 2
                continue
            sent = _collect(wd, expect, proc, log, name, timeout_s)
            return {
                "sent": sent,
                "load s": opened - t_spawn,
                "commands s": t_cli - opened,
                "use-files N": wait,
                "commands": n_cmds,
            }
        finally:
            _stop(proc)
    raise ToolError(f"{name}: the control plane did not load within --use-files {wait} s")


def _collect(wd, expect, proc, log, name, timeout_s):
    t0 = time.monotonic()
    while True:
        got = {p: _sent(wd / f"{p}_out.pcap") for p in expect}
        if all(len(got[p]) >= n for p, n in expect.items()):
            return got
        if proc.poll() is not None or time.monotonic() - t0 > timeout_s:
            counts = {p: f"{len(got[p])}/{n}" for p, n in expect.items()}
            raise ToolError(
                f"{name} sent {counts} of the expected frames per port "
                f"({'exited' if proc.poll() is not None else 'timed out'}). "
                f"Its log ({log}):\n{_tail(log)}"
            )
        time.sleep(0.05)


def _sent(path: Path) -> list:
    """Frames (with times) in an output pcap that BMv2 may still be writing."""
    return read_pcap(path, True) if path.exists() and path.stat().st_size >= 24 else []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
