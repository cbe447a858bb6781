"""Login, logout, invite acceptance and the language switch. Views parse forms and call operations."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from medlabel.accounts import operations
from medlabel.accounts.forms import LanguageForm, LoginForm, SetPasswordForm
from medlabel.accounts.passwords import WeakPasswordError
from medlabel.errors import LabelStudioError
from medlabel.models import Account, Role
from medlabel.web.db import db_session, settings
from medlabel.web.extensions import LANGUAGES, SessionUser

logger = logging.getLogger(__name__)
bp = Blueprint("accounts", __name__)


def _home() -> str:
    return url_for("worklist.page")


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect after login would hand phishers our domain."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return _home()


def _start_session(account: Account) -> None:
    session.clear()  # no fixation: a fresh session for the logged-in user
    session.permanent = True
    login_user(SessionUser(account))


@bp.get("/")
def index() -> ResponseReturnValue:
    return redirect(_home() if current_user.is_authenticated else url_for("accounts.login"))


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    form = LoginForm()
    if form.validate_on_submit():
        account = operations.authenticate(db_session(), form.email.data or "", form.password.data or "")
        if account is None:
            logger.info("login refused from %s", request.remote_addr)
            flash(_("Wrong e-mail or password."), "error")
            return render_template("login.html", form=form), 401
        _start_session(account)
        logger.info("account %s logged in", account.id)
        return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", form=form), 400 if form.errors else 200


@bp.post("/logout")
@login_required
def logout() -> ResponseReturnValue:
    logout_user()
    session.clear()
    return redirect(url_for("accounts.login"))


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept_invite(token: str) -> ResponseReturnValue:
    invite = operations.pending_invite(db_session(), token)  # InviteError → 410 page
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            account = operations.accept_invite(db_session(), settings(), token, form.password.data or "")
        except WeakPasswordError as exc:
            form.password.errors = [str(exc)]
            return render_template("invite.html", form=form, email=invite.account.email), 400
        except LabelStudioError:
            logger.exception("account %s: Label Studio provisioning failed", invite.account_id)
            flash(
                _("Your labeling account could not be prepared. Please try again in a few minutes."), "error"
            )
            return render_template("invite.html", form=form, email=invite.account.email), 502
        _start_session(account)
        return redirect(_home())
    status = 400 if form.errors else 200
    return render_template("invite.html", form=form, email=invite.account.email), status


@bp.post("/language")
def language() -> ResponseReturnValue:
    form = LanguageForm()
    if form.validate_on_submit() and form.language.data in LANGUAGES:
        session["lang"] = form.language.data
        if current_user.is_authenticated:
            account = db_session().get(Account, current_user.account_id)
            if account is not None:
                account.language = form.language.data
                db_session().commit()
    return redirect(_safe_next(request.form.get("next")))


def is_physician() -> bool:
    return bool(current_user.is_authenticated and current_user.role == Role.PHYSICIAN.value)
