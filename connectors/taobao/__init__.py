"""Taobao / Tmall Open Platform (TOP): orders only.

Taobao has no chat API open to new applications (the Wangwang/Qianniu message APIs were
retired in 2021 and their replacement takes no new applicants), so this kind serves only the
orders stream; pair it with another chat source.
"""
