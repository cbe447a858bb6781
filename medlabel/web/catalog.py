"""The template catalog for project managers: an HTML page and a JSON API."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, render_template, request
from flask.typing import ResponseReturnValue

from config_templates import Overrides, Template, get_template, list_templates
from medlabel.specialties import SPECIALTIES

bp = Blueprint("catalog", __name__)


def _summary(template: Template) -> dict[str, Any]:
    return {
        "id": template.id,
        "version": template.version,
        "title": template.title,
        "title_ko": template.title_ko,
        "specialty": template.specialty,
        "subspecialty": template.subspecialty,
        "modality": template.modality,
        "data_type": template.data_type,
        "task_type": template.task_type,
        "min_tier": template.min_tier.value,
        "reads": template.reads,
        "complexity": template.complexity,
        "standard": template.standard,
    }


@bp.get("/")
@bp.get("/templates")
def catalog_page() -> ResponseReturnValue:
    specialty = request.args.get("specialty") or None
    data_type = request.args.get("data_type") or None
    templates = list_templates(specialty=specialty, data_type=data_type)
    return render_template(
        "catalog.html",
        templates=templates,
        specialties=SPECIALTIES,
        selected_specialty=specialty,
        selected_data_type=data_type,
        covered=len({t.specialty for t in templates}),
    )


@bp.get("/templates/<template_id>")
def template_page(template_id: str) -> ResponseReturnValue:
    template = get_template(template_id)
    language = request.args.get("language", "en")
    rendered = template.render(Overrides(language=language))
    return render_template(
        "template.html", template=template, rendered=rendered, specialty=SPECIALTIES[template.specialty]
    )


@bp.get("/api/templates")
def templates_api() -> ResponseReturnValue:
    templates = list_templates(request.args.get("specialty"), request.args.get("data_type"))
    return jsonify([_summary(t) for t in templates])


@bp.get("/api/templates/<template_id>")
def template_api(template_id: str) -> ResponseReturnValue:
    template = get_template(template_id)
    rendered = template.render(Overrides(language=request.args.get("language", "en")))
    labelsets = {
        control: [{"code": e.code, "en": e.en, "ko": e.ko} for e in entries]
        for control, entries in template.labelsets.items()
    }
    return jsonify(
        {
            **_summary(template),
            "labelsets": labelsets,
            "instructions": dict(template.instructions),
            "xml": rendered.xml,
        }
    )
