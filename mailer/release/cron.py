"""How long the release takes to leave, and how to run ``send-due`` from cron or systemd.

The crontab line runs ``send-due`` every minute with absolute paths and its own ``PATH``, so it
works with cron's minimal environment, from any working directory and whatever the machine's
time zone is: the embargo is compared with the clock in mailer, never by cron (``CRON_TZ`` is not
needed; not every cron has it).
"""

from __future__ import annotations

import datetime as dt
import math
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from mailer.config import Config
from mailer.store import SendRate

EVERY_MINUTE = "* * * * *"
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
CRON_LOG = "release-cron.log"
UNIT = "mailer-release"
SENDMAIL = ("/usr/sbin/sendmail", "/usr/lib/sendmail")  # what cron mails with


def delivery_text(
    config: Config,
    *,
    messages: int,
    recipients: int,
    start: dt.datetime,
    size: int,
    by_language: Mapping[str, int] | None = None,
    measured: SendRate | None = None,
) -> tuple[str, list[str]]:
    """The delivery plan from the embargo second, and the options that would shorten it;
    *measured* is this server's pace in its latest run (the journal's log of submissions)."""
    from mailer.sending import delivery_plan

    smtp = config.smtp if config.transport.kind == "smtp" else None
    plan = delivery_plan(messages, smtp, start, recipients=recipients, measured=measured)
    text = plan.text
    if config.release.mode == "bcc":
        text += f" ({recipients} recipients in Bcc, at most {size} a message)"
    options: list[str] = []
    if smtp is None or plan.seconds < 10:
        return text, options
    if config.release.mode == "personal":
        langs = by_language or {"": recipients}
        batches = sum(math.ceil(n / size) for n in langs.values())
        bcc = delivery_plan(batches, smtp, start, recipients=recipients, measured=measured)
        options.append(f'Bcc mode ([release] mode = "bcc"): {bcc.text}')
    if smtp.rate_per_minute:
        relay = delivery_plan(
            messages,
            replace(smtp, rate_per_minute=0),
            start,
            recipients=recipients,
            measured=measured,
        )
        options.append(
            f"a relay or mail service without a per-minute limit: {relay.text}; more connections "
            f"do not help here: {smtp.rate_per_minute}/min is a limit of the mailbox"
        )
    elif smtp.connections < 3:
        faster = (  # the pace measured over fewer connections, shared by three
            replace(measured, seconds=measured.seconds * smtp.connections / 3)
            if measured is not None
            else None
        )
        more = delivery_plan(
            messages, replace(smtp, connections=3), start, recipients=recipients, measured=faster
        )
        options.append(f"[smtp] connections = 3 (the most Microsoft 365 allows): {more.text}")
    return text, options


@dataclass(frozen=True)
class CronSetup:
    command: str  # what cron runs (after the five time fields), with absolute paths
    job: str  # the crontab line
    lines: tuple[str, ...]  # what to paste with `crontab -e`: comments, then the job line
    notes: tuple[str, ...]  # about the password and the log
    mail_lines: tuple[str, ...]  # the same job with its failures mailed (MAILTO) and logged
    mail_notes: tuple[str, ...]  # what cron mails, and whether this machine can
    log: Path
    service: str  # systemd alternative: the .service unit
    timer: str  # and its .timer unit


def _cron_escape(text: str) -> str:
    """In a crontab command an unescaped % means a newline."""
    return text.replace("%", "\\%")


def cron_setup(config: Config, *, program: Sequence[str]) -> CronSetup:
    """The crontab line for *program* (the absolute path of the mailer executable, or the
    interpreter and ``-m mailer``)."""
    config_file = config.root / config.path.name
    log = config.root / CRON_LOG
    bindir = str(Path(program[0]).parent)
    path = f"{bindir}:{SYSTEM_PATH}" if bindir not in SYSTEM_PATH.split(":") else SYSTEM_PATH
    argv = [*program, "--config", str(config_file), "release", "send-due"]
    run = " ".join(shlex.quote(a) for a in argv)
    command = f"PATH={shlex.quote(path)} {run} >> {shlex.quote(str(log))} 2>&1"
    job = f"{EVERY_MINUTE} {_cron_escape(command)}"
    notes: list[str] = []
    env_lines: list[str] = []  # the password variables, [smtp]'s and [smtp.fallback]'s
    smtp = config.smtp if config.transport.kind == "smtp" else None
    relays = [] if smtp is None else [smtp] if smtp.fallback is None else [smtp, smtp.fallback]
    for relay in relays:
        if not relay.username or relay.auth == "oauth2":
            continue
        section = relay.section
        if relay.password_env:
            env_line = f"{relay.password_env}=<the password>"
            env_lines.append(env_line)
            notes.append(
                f"cron does not see your shell's {relay.password_env}: replace the line "
                f"'# {env_line}' with the real value (your crontab is readable by you and root "
                f"only), or set [{section}] password_command instead"
            )
        elif relay.password_command:
            notes.append(
                f"[{section}] password_command runs with PATH={path}; give it an absolute path "
                "if the command lives elsewhere"
            )
        else:
            notes.append(
                f"the system keyring is usually locked for cron jobs: set [{section}] "
                "password_env or password_command"
            )
    notes.append(f"each run appends one line to {log}")
    lines = [
        f"# mailer: send the embargoed press release of {config.event.title!r} when it is due.",
        "# Runs every minute; mailer compares the embargo with the clock in "
        f"{config.zone.key}, so the machine's time zone does not matter. Remove after the release.",
    ]
    lines += [f"# {env_line}" for env_line in env_lines]
    lines.append(job)
    # Mailed as well: stdout (one line a minute) goes to the log only, stderr (a failure, a
    # pre-flight that starts failing) to the log and to cron's mail.
    mail_to = config.organizer.email
    mail_job = f"{EVERY_MINUTE} {_cron_escape(f'PATH={shlex.quote(path)} {run}')} " + (
        f"2>&1 >> {_cron_escape(shlex.quote(str(log)))} | tee -a "
        f"{_cron_escape(shlex.quote(str(log)))}"
    )
    mail_lines = (*lines[:-1], f"MAILTO={mail_to}", mail_job)
    mail_notes = [
        f"cron mails to {mail_to} what send-due writes to stderr: an error, a missed or "
        "paused release, and a failing pre-flight check once when it starts failing (not "
        "every minute); every run still appends its line to the log",
    ]
    if not any(Path(p).exists() for p in SENDMAIL):
        mail_notes.append(
            "this machine has no sendmail, so cron cannot mail here: install a mail transfer "
            "agent (for example msmtp-mta or postfix), or read the log"
        )
    exec_start = " ".join(_systemd_quote(a) for a in argv)
    service = "\n".join(
        [
            "[Unit]",
            "Description=mailer: send the embargoed press release when it is due",
            "",
            "[Service]",
            "Type=oneshot",
            f"Environment=PATH={path}",
            *(
                [
                    f"# EnvironmentFile=%h/.config/mailer/{UNIT}.env   (mode 600: "
                    + ", ".join(f"{line.split('=')[0]}=..." for line in env_lines)
                    + ")"
                ]
                if env_lines
                else []
            ),
            f"ExecStart={exec_start}",
            "",
        ]
    )
    timer = "\n".join(
        [
            "[Unit]",
            "Description=mailer: check every minute whether the press release is due",
            "",
            "[Timer]",
            "OnCalendar=*-*-* *:*:00",
            "AccuracySec=1s",
            "",
            "[Install]",
            "WantedBy=timers.target",
            "",
        ]
    )
    return CronSetup(
        command,
        job,
        tuple(lines),
        tuple(notes),
        mail_lines,
        tuple(mail_notes),
        log,
        service,
        timer,
    )


def _systemd_quote(arg: str) -> str:
    if arg and all(c.isalnum() or c in "/._-+=:@," for c in arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%") + '"'
