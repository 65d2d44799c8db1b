"""The morning's lists in Portuguese: the queue, the follow-up and the guard.

Each takes the plain values the shell gathered (``shell.aftercare.Aftercare``) and
returns lines for the terminal; the sentences come from ``templates/text/lines.toml``.
"""

from __future__ import annotations

from relief_kit.text import formatting as fmt
from relief_kit.text.lines import label, line


def queue_lines(care) -> list[str]:
    """Open cases oldest-overdue first: state, age and deadline in business days, holder."""
    queue = care.queue
    if not queue:
        return [f"Nenhum caso aberto em {fmt.day(care.today)}."]
    out = [f"{len(queue)} caso(s) aberto(s) em {fmt.day(care.today)} (prazos em dias úteis):"]
    for c in queue:
        if c.deadline is None:
            clock = "sem prazo correndo"
        else:
            what = "decidir" if c.clock == "decide" else "avisar o cliente"
            late = (f", ATRASADO {c.overdue} dia(s) útil(eis)" if c.overdue else "")
            clock = f"{what} até {fmt.day(c.deadline)}{late}"
        holder = c.holder or "ninguém"
        out.append(f"{c.request_id}  {label('states', c.state)}  {c.age} dia(s) útil(eis)  "
                   f"{clock}  com: {holder}")
    return out


def follow_up_line(f) -> str:
    params = dict(paid=f.paid, due=f.due, next_date=f.next_date, next_amount=f.next_amount,
                  missed_date=f.missed_date, shortfall=f.shortfall,
                  business_days=f.business_days)
    return f"{f.request_id}  cliente {f.customer_id}  {line('follow_up', f.kind, params)}"


def follow_up_lines(care) -> list[str]:
    """Every agreement: broken first, then due soon, active, kept; a count at the end."""
    if not care.follow_ups:
        return ["Nenhum acordo a acompanhar."]
    out = [follow_up_line(f) for f in care.follow_ups]
    counts = {}
    for f in care.follow_ups:
        counts[f.kind] = counts.get(f.kind, 0) + 1
    out.append("Acordos: " + ", ".join(f"{counts[k]} {label('follow_up_kinds', k)}"
                                       for k in ("kept", "active", "due_soon", "broken")
                                       if k in counts) + ".")
    return out


def guard_lines(care) -> list[str]:
    """One line per restriction of a protected customer (empty list: all clear)."""
    if not care.findings:
        return [f"Nenhum cliente com caso aberto ou acordo em dia está bloqueado, "
                f"notificado ou multado em {fmt.day(care.today)}."]
    out = [f"ATENÇÃO: {len(care.findings)} restrição(ões) a cliente protegido em "
           f"{fmt.day(care.today)}; corrija no ERP:"]
    for f in care.findings:
        params = dict(status=label("contract_status", f.status) if f.status else "",
                      invoice_id=f.invoice_id, on=f.on, amount=f.amount)
        out.append(f"{f.request_id}  cliente {f.customer_id}  {label('guard', f.reason)}: "
                   f"{line('guard', f.kind, params)}")
    return out
