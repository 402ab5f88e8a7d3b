"""Chat exported to files: for chat platforms with no API (Taobao's Wangwang/Qianniu).

The shop exports its chat records (and, where its tool has them, agents' log-in/log-out
records) in the generic message schema (SPEC §5) and drops the files into a directory; this
kind reads them. Each file declares the period it covers, and the stream's watermark follows
the exported periods contiguous from it, never further: a stretch nobody exported is never
judged. The formats and the workflow are in ``docs/platforms.md`` ("Chat exported to files").
"""
