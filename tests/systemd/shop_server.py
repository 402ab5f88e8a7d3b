"""The simulated shop's API as a process of its own, for the real-systemd test.

``python -m tests.systemd.shop_server --port PORT --token TOKEN`` serves an empty shop (the
daemon's back-fill ends at once) on 127.0.0.1:PORT until it gets SIGTERM, and prints
"listening" once it accepts connections. The test starts it in the container's network
namespace, so the service reaches it on its loopback.
"""

from __future__ import annotations

import argparse

from aiohttp import web

from daemon.simulator.app import make_simulator_app
from daemon.simulator.world import World


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    args = parser.parse_args()
    web.run_app(
        make_simulator_app(World(), args.token),
        host="127.0.0.1",
        port=args.port,
        print=lambda _text: print("listening", flush=True),
        access_log=None,
    )


if __name__ == "__main__":
    main()
