"""``check-config`` on an agency's config: counts per kind, the hosts the shops share, and
every shop only with ``--shops`` (issue 16)."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.cli import main


def agency_config(directory: Path, shops: int) -> Path:
    (directory / "token").write_text("t")
    parts = ['[[agents]]\nid = "a1"\n']
    for i in range(shops):
        orders = f"https://shop{i % 3}.example.com/s{i}" if i % 4 else "https://gw.example.com"
        kind = "generic" if i % 4 else "taobao"
        extra = 'app_key = "k"\napp_secret_file = "token"\n' if kind == "taobao" else ""
        parts.append(
            f'[[shops]]\nid = "s{i:03d}"\n'
            f'[shops.orders]\nkind = "{kind}"\nbase_url = "{orders}"\ntoken_file = "token"\n{extra}'
            f'[shops.chat]\nkind = "generic"\nbase_url = "https://chat.example.com/s{i}"\n'
            'token_file = "token"\n'
        )
    path = directory / "agency.toml"
    path.write_text("\n".join(parts))
    return path


def test_a_large_config_is_summarised_and_lists_its_shops_on_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = agency_config(tmp_path, 200)
    assert main(["check-config", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"{config}: OK"
    assert "  shops: 200 (orders: generic 150, taobao 50; chat: generic 200)" in out
    assert "  hosts: 5 (chat.example.com: 200 shops, gw.example.com: 50 shops," in out
    assert "s123" not in out and "(--shops lists every shop)" in out
    assert len(out.splitlines()) < 10

    assert main(["check-config", "--shops", str(config)]) == 0
    listed = [line for line in capsys.readouterr().out.splitlines() if "  orders " in line]
    assert len(listed) == 200
    assert listed[0].split() == [
        "s000", "orders", "taobao", "https://gw.example.com",
        "chat", "generic", "https://chat.example.com/s0",
    ]  # fmt: skip
