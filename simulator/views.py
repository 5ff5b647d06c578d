"""Development-only page: text or call the hotline from the browser and read the TwiML replies.

Requests go through the whole WSGI stack (signature check included), signed as Twilio would sign
them. The page exists only when the simulator is enabled (development and tests, never in production)
and only admins may use it: it can text and call the hotline as any number.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request, session
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField

from hotline_core.models import Role
from hotline_web.auth import roles_required
from hotline_web.context import runtime
from simulator.replies import OutboxTexts
from simulator.twilio_requests import Phone

REPLY_WAIT_SECONDS = 5

bp = Blueprint("simulator", __name__, url_prefix="/dev/simulator", template_folder="templates")


class SimulatorForm(FlaskForm):
    from_number = StringField(default="+8613800138000")
    message = TextAreaField()
    english = BooleanField()


def wsgi_phone() -> Phone:
    settings = runtime().settings
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    client = app.test_client()
    base = settings.public_base_url or request.host_url.rstrip("/")

    def transport(path: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        response = client.post(path, data=form, headers=headers, base_url=base)
        return response.status_code, response.get_data(as_text=True)

    # Texts are answered by SMS from a job: wait a little for the embedded worker to send it.
    texts = OutboxTexts(runtime(), timeout=REPLY_WAIT_SECONDS)
    return Phone(base, settings.webhook_auth_token, transport, settings.hotline_number, read_texts=texts)


@bp.route("/", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def page():  # type: ignore[no-untyped-def]
    form = SimulatorForm()
    conversation: list[dict[str, object]] = session.get("sim_conversation", [])
    if request.method == "POST" and form.validate_on_submit():
        phone = wsgi_phone()
        text = (form.message.data or "").strip()
        if request.form.get("action") == "call":
            exchanges = phone.call(
                form.from_number.data or "", speech=text, english=bool(form.english.data), recording_seconds=5
            )
        else:
            exchanges = [phone.text(form.from_number.data or "", text)]
        for ex in exchanges:
            said = (
                ex.form.get("Body")
                or ex.form.get("SpeechResult")
                or ex.form.get("Digits")
                or ("[recording]" if ex.form.get("RecordingUrl") else ("[ring]" if ex.path == "/twilio/voice" else ""))
            )
            conversation.append(
                {"citizen": said, "hotline": ex.replies + ex.says, "twiml": ex.body, "status": ex.status}
            )
        session["sim_conversation"] = conversation[-30:]
    return render_template("simulator/page.html", form=form, conversation=conversation)
