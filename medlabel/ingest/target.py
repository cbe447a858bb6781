"""What a Label Studio project can take: read from its labeling config, so ingest feeds the key it reads."""

from __future__ import annotations

from dataclasses import dataclass

from label_studio_sdk.label_interface import LabelInterface

from medlabel.errors import MedlabelError

#: Which plugin feeds which Label Studio object tag.
PLUGINS_FOR_OBJECT = {
    "Image": ("dicom",),
    "TimeSeries": ("ecg",),
    "Text": ("text",),
    "HyperText": ("text",),
}


class IngestTargetError(MedlabelError):
    code = "ingest_target"


@dataclass(frozen=True)
class ProjectTarget:
    """The data key a project's template reads, and whether it takes a list of images (a series)."""

    object_tag: str
    object_name: str
    data_key: str
    takes_list: bool
    #: The span-labelling control on that object (`Labels` on a text), where spans that came with the data go.
    span_control: str | None = None
    span_labels: tuple[str, ...] = ()

    @property
    def plugins(self) -> tuple[str, ...]:
        return PLUGINS_FOR_OBJECT[self.object_tag]


def project_target(label_config: str) -> ProjectTarget:
    """The first object tag of the config that ingest can feed; the config must have one."""
    interface = LabelInterface(label_config)
    for obj in interface.objects:
        if obj.tag not in PLUGINS_FOR_OBJECT:
            continue
        value_list = obj.attr.get("valueList")
        variable = value_list or obj.attr.get("value") or ""
        if not variable.startswith("$"):
            continue
        spans = next(
            (c for c in interface.controls if c.tag == "Labels" and obj.name in (c.to_name or [])), None
        )
        return ProjectTarget(
            object_tag=obj.tag,
            object_name=obj.name,
            data_key=variable[1:],
            takes_list=bool(value_list),
            span_control=spans.name if spans else None,
            span_labels=tuple(spans.labels) if spans else (),
        )
    tags = sorted({o.tag for o in interface.objects})
    raise IngestTargetError(
        f"the project's labeling config has no object ingest can feed (has {', '.join(tags) or 'none'}; "
        f"ingest feeds {', '.join(sorted(PLUGINS_FOR_OBJECT))})"
    )
