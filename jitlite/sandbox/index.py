"""The sandbox server's front page (``GET /``): what it emulates, its corps and people, and the demo credentials.

Every id and secret the sandbox holds is a fake made for this local emulator, so the page shows them
in full: they are what an app's settings need to talk to it.
"""

from __future__ import annotations

from flask import Blueprint, render_template_string, request

from jitlite.sandbox._web import sandbox_state
from jitlite.sandbox.admin import url_checks

__all__ = ["bp"]

bp = Blueprint("sandbox_index", __name__)

_SHOWN_MEMBERS = 50  # members listed per corp; the admin API returns them all

_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>jitlite sandbox</title>
<style>
body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;margin:1.5rem auto;max-width:60rem;
padding:0 1rem;color:#222;line-height:1.45} h1{font-size:1.4rem} h2{font-size:1.1rem;margin-top:1.6rem}
table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.4rem 0} th,td{border:1px solid #ddd;
padding:.3rem .45rem;text-align:left;vertical-align:top} th{background:#f5f5f5} code{font-size:.85rem;
word-break:break-all} .note{color:#666;font-size:.9rem} .off{color:#999}
@media (max-width:40rem){table{display:block;overflow-x:auto}}
</style></head><body>
<h1>jitlite sandbox · 企业微信/微信 本地模拟器</h1>
<p class="note">A local emulator of WeCom (企业微信) and WeChat (微信) for development and tests. Every id and
secret below is fake and works only here — 以下全部为本地模拟用的假凭据。 Point an app's settings
(<code>wecomBaseUrl</code>, <code>wecomLoginBaseUrl</code>, <code>wechatBaseUrl</code>, <code>wechatOpenBaseUrl</code>)
at <code>{{ base }}</code>.</p>

<h2>What it serves · 模拟的接口</h2>
<table><tr><th>path</th><th>emulates</th></tr>
<tr><td><code>/cgi-bin/…</code></td>
<td>qyapi.weixin.qq.com — WeCom server API (tokens, users, departments, suites)</td></tr>
<tr><td><code>/wwlogin/sso/login</code></td><td>login.work.weixin.qq.com — WeCom web login (QR) page</td></tr>
<tr><td><code>/connect/oauth2/authorize</code></td>
<td>open.weixin.qq.com — WeCom in-client OAuth (workbench)</td></tr>
<tr><td><code>/connect/qrconnect</code>, <code>/sns/…</code></td>
<td>open.weixin.qq.com, api.weixin.qq.com — WeChat website login</td></tr>
<tr><td><code>/3rdapp/install</code>, <code>/sandbox/workbench</code></td>
<td>installing a suite in a corp; the WeCom workbench</td></tr>
<tr><td><code>/sandbox/…</code></td>
<td>the admin API (JSON): <a href="{{ base }}/sandbox/">overview</a>, suites and their
callback URLs (verified by echostr), authorisations, tickets, org edits, clock, request and push logs, faults</td></tr>
</table>

<h2>Suites · 第三方/代开发应用</h2>
{% for s in suites %}<table>
<tr><th>suite id</th><td><code>{{ s.suite_id }}</code> ({{ s.kind }}, {{ s.name }})</td></tr>
<tr><th>secret</th><td><code>{{ s.secret }}</code></td></tr>
<tr><th>Token</th><td><code>{{ s.token }}</code></td></tr>
<tr><th>EncodingAESKey</th><td><code>{{ s.encoding_aes_key }}</code></td></tr>
<tr><th>callback URL</th><td>{% if s.callback_url %}<code>{{ s.callback_url }}</code>{% else %}<span class="off">none
registered</span>{% endif %}{% if checks.get(s.suite_id) %}{% set last = checks[s.suite_id][-1] %}
— last verification: {{ "passed" if last.ok else "failed: " ~ last.error }}{% endif %}</td></tr>
<tr><th>authorised in</th><td>{{ (authorised.get(s.suite_id) or []) | join(", ") or "no corp yet" }}</td></tr>
</table>{% else %}<p class="off">No suite registered.</p>{% endfor %}

<h2>Self-built apps · 自建应用</h2>
<table><tr><th>corp id</th><th>agent id</th><th>secret</th><th>name</th></tr>
{% for a in apps %}<tr><td><code>{{ a.corp_id }}</code></td>
<td>{{ a.agent_id if a.agent_id is not none else "contacts" }}</td>
<td><code>{{ a.secret }}</code></td><td>{{ a.name }}</td></tr>{% endfor %}</table>

<h2>WeChat website apps · 微信网站应用</h2>
<table><tr><th>appid</th><th>secret</th><th>open account</th></tr>
{% for w in wechat_apps %}<tr><td><code>{{ w.appid }}</code></td><td><code>{{ w.secret }}</code></td>
<td>{{ w.open_account or "—" }}</td></tr>{% endfor %}</table>

<h2>Who can log in · 可以登录的人</h2>
<p class="note">On the sandbox's login pages, pick one of these people (no password: the page stands for scanning
the QR code). 在模拟登录页上选择下面的成员即可"扫码"。</p>
{% for c in corps %}<h3>{{ c.corp_name }} <code>{{ c.corp_id }}</code></h3>
<table><tr><th>userid</th><th>name</th><th>position</th><th>departments</th><th>status</th></tr>
{% for m in c.members %}<tr class="{{ '' if m.status == 1 else 'off' }}"><td><code>{{ m.userid }}</code></td>
<td>{{ m.name }}</td><td>{{ m.position }}</td><td>{{ m.department | join(", ") }}</td>
<td>{{ {1: "active", 2: "disabled", 4: "not activated", 5: "left"}.get(m.status, m.status) }}</td></tr>{% endfor %}
</table>{% if c.more %}<p class="note">…and {{ c.more }} more.</p>{% endif %}{% endfor %}
{% if wechat_users %}<h3>WeChat users · 微信用户</h3><table><tr><th>key</th><th>nickname</th></tr>
{% for u in wechat_users %}<tr><td><code>{{ u.key }}</code></td><td>{{ u.nickname }}</td></tr>{% endfor %}
</table>{% endif %}
<p class="note">jitlite sandbox — no data leaves this machine.</p>
</body></html>"""


@bp.get("/")
def index() -> str:
    """Show what the sandbox serves, its apps with their (fake) credentials and the people who can log in."""
    state = sandbox_state()
    with state.lock:
        authorised: dict[str, list[str]] = {}
        for (suite_id, corp_id), auth in state.authorizations.items():
            if auth.active:
                authorised.setdefault(suite_id, []).append(corp_id)
        corps = [{"corp_id": c.corp_id, "corp_name": c.corp_name,
                  "members": list(c.members.values())[:_SHOWN_MEMBERS],
                  "more": max(0, len(c.members) - _SHOWN_MEMBERS)} for c in state.org.corps.values()]
        return render_template_string(
            _PAGE, base=request.host_url.rstrip("/"), suites=list(state.suites.values()),
            apps=list(state.apps.values()), wechat_apps=list(state.wechat_apps.values()), corps=corps,
            wechat_users=list(state.org.wechat_users.values())[:_SHOWN_MEMBERS], authorised=authorised,
            checks=url_checks())
