"""The medlabel exception tree: each error carries a stable code, an HTTP status and a CLI exit code."""


class MedlabelError(Exception):
    """Base of every error medlabel raises on purpose; its message is safe to show a user."""

    code = "medlabel_error"
    http_status = 500
    exit_code = 1


class ConfigError(MedlabelError):
    """Settings or environment variables are missing or malformed."""

    code = "config_error"
    exit_code = 2


class TemplateError(MedlabelError):
    """A labeling template, its metadata or a manager's override is invalid."""

    code = "invalid_template"
    http_status = 400
    exit_code = 2


class UnknownTemplateError(TemplateError):
    """No template in the catalog has the requested id."""

    code = "unknown_template"
    http_status = 404


class LabelingConfigError(TemplateError):
    """A labeling-config XML fails validation; `line` is set when the problem has one."""

    code = "invalid_labeling_config"

    def __init__(self, message: str, *, tag: str | None = None, line: int | None = None) -> None:
        where = ""
        if tag and line:
            where = f"<{tag}> at line {line}: "
        elif tag:
            where = f"<{tag}>: "
        elif line:
            where = f"line {line}: "
        super().__init__(where + message)
        self.tag = tag
        self.line = line


class LabelStudioError(MedlabelError):
    """Label Studio refused a request or could not be reached."""

    code = "label_studio_error"
    http_status = 502
    exit_code = 3


class RoutingError(MedlabelError):
    """A routing policy, pool file or routing request is invalid; nothing was changed."""

    code = "routing_error"
    http_status = 400
    exit_code = 2


class NoEligiblePhysicianError(RoutingError):
    """The policy asks for more independent reads than the pool has eligible physicians."""

    code = "no_eligible_physician"


class UnknownRecordError(RoutingError):
    """A physician, project or task named by the user does not exist in the platform DB."""

    code = "not_found"
    http_status = 404


class QualityError(MedlabelError):
    """Bad input to a quality flow: no such adjudication, an empty reason, an unreadable gold file."""

    code = "quality_error"
    http_status = 400
    exit_code = 2


class WebhookError(MedlabelError):
    """A webhook delivery the platform refuses (nothing of it is stored)."""

    code = "invalid_webhook"
    http_status = 400


class WebhookAuthError(WebhookError):
    """No or wrong shared secret on a webhook delivery."""

    code = "unauthorized"
    http_status = 401


class WebhookUnavailableError(MedlabelError):
    """The inbox cannot be written (database down): Label Studio gets this answer at once, and reconciliation
    brings the event's changes in later."""

    code = "inbox_unavailable"
    http_status = 503


class WebhookTooLargeError(WebhookError):
    code = "payload_too_large"
    http_status = 413
