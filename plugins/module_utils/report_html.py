# -*- coding: utf-8 -*-
# Copyright: contributors to dgx_station.inference
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The look shared by the collection's HTML reports (benchmark and fleet).

Self-contained pages: one inline stylesheet, no script, no external stylesheet, font or image,
so a page opens offline. BASE_CSS is the page, headings, tables and verdict colours; a report
adds its own rules (the benchmark its SVG charts, the fleet its badges) after it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from html import escape

from ansible_collections.dgx_station.inference.plugins.module_utils.report_templates import PAGE

BASE_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:24px;color:#1b1b1b;background:#fafafa}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:26px 0 8px}
.meta{color:#555;font-size:13px;margin-bottom:12px}
table{border-collapse:collapse;font-size:13px;background:#fff;margin:6px 0}
th,td{border:1px solid #d0d0d0;padding:4px 8px;text-align:right}th{background:#eef1f5}
td.l,th.l{text-align:left}
.pass{color:#176b2c;font-weight:bold}.fail{color:#b00020;font-weight:bold}.no_slo{color:#555;font-weight:bold}
.not_applicable{color:#555}.low{color:#8a5a00;font-weight:bold}.note{color:#555;font-size:12px;margin:2px 0 8px}
.warn{color:#7a5200;background:#fff0c2;border:1px solid #e0b000;padding:4px 8px;font-size:13px}
"""


def table(headers, rows, left_cols=1):
    """An HTML table. headers are plain text (escaped here); cells are HTML already (escape them first).

    The first left_cols columns are left-aligned, the others right-aligned (figures).
    """
    out = ["<table><thead><tr>"]
    for i, h in enumerate(headers):
        out.append('<th class="l">%s</th>' % escape(h) if i < left_cols else "<th>%s</th>" % escape(h))
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>")
        for i, cell in enumerate(row):
            out.append('<td class="l">%s</td>' % cell if i < left_cols else "<td>%s</td>" % cell)
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def page(title, body, css=BASE_CSS):
    """The whole document (report_templates.PAGE): title (plain text), body (HTML), css (the inline stylesheet)."""
    return PAGE.substitute(title=escape(title), css=css, body=body)
