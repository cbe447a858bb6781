"""Attributes each Label Studio 1.23 labeling-config tag accepts.

Label Studio validates configs against a JSON schema that checks structure only; the attribute list
per tag exists only in its front-end bundle (tags.json in the label-studio repo), so it is restated here
as data to catch misspelt attributes before a project is created.
"""

COMMON_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "className",
        "model_path",
        "model_score_threshold",
        "model_skip",
        "predicted_values",
        "style",
        "visibleWhen",
        "whenChoiceValue",
        "whenLabelValue",
        "whenRole",
        "whenTagName",
    }
)

TAG_ATTRIBUTES: dict[str, frozenset[str]] = {
    "Audio": frozenset(
        {
            "decoder",
            "defaultScale",
            "defaultSpeed",
            "defaultVolume",
            "defaultZoom",
            "defaultscale",
            "defaultspeed",
            "defaultvolume",
            "defaultzoom",
            "height",
            "hotkey",
            "name",
            "player",
            "spectrogram",
            "splitChannels",
            "splitchannels",
            "sync",
            "value",
            "waveHeight",
            "waveheight",
        }
    ),
    "BitmaskLabels": frozenset(
        {"choice", "maxUsages", "name", "showInline", "smart", "smartOnly", "toName", "value"}
    ),
    "Brush": frozenset({"choice", "maxUsages", "name", "showInline", "smart", "smartOnly", "toName"}),
    "BrushLabels": frozenset(
        {"choice", "maxUsages", "name", "showInline", "smart", "smartOnly", "toName", "value"}
    ),
    "Bucket": frozenset({"default", "name", "title"}),
    "Channel": frozenset(
        {
            "column",
            "dataRange",
            "displayFormat",
            "fixedScale",
            "height",
            "legend",
            "markerColor",
            "markerSize",
            "markerSymbol",
            "showAxis",
            "strokeColor",
            "strokeWidth",
            "timeRange",
            "units",
        }
    ),
    "Chat": frozenset(
        {
            "editable",
            "llm",
            "maxMessages",
            "maxmessages",
            "messageRoles",
            "messageroles",
            "minMessages",
            "minmessages",
            "name",
            "value",
        }
    ),
    "Choice": frozenset({"alias", "color", "hint", "hotkey", "html", "selected", "style", "value"}),
    "Choices": frozenset(
        {
            "allowNested",
            "choice",
            "layout",
            "name",
            "perItem",
            "perRegion",
            "required",
            "requiredMessage",
            "showInline",
            "toName",
            "value",
            "visibleWhen",
            "whenChoiceValue",
            "whenLabelValue",
            "whenTagName",
        }
    ),
    "Collapse": frozenset({"accordion", "bordered", "open"}),
    "DateTime": frozenset(
        {
            "format",
            "max",
            "min",
            "name",
            "only",
            "perItem",
            "perRegion",
            "required",
            "requiredMessage",
            "toName",
        }
    ),
    "Ellipse": frozenset(
        {
            "canRotate",
            "fillColor",
            "name",
            "opacity",
            "smart",
            "smartOnly",
            "strokeColor",
            "strokeWidth",
            "toName",
        }
    ),
    "EllipseLabels": frozenset(
        {
            "canRotate",
            "choice",
            "fillColor",
            "maxUsages",
            "name",
            "opacity",
            "showInline",
            "smart",
            "smartOnly",
            "strokeColor",
            "strokeWidth",
            "toName",
            "value",
        }
    ),
    "Filter": frozenset({"hotkey", "minLength", "minlength", "name", "placeholder", "style", "toName"}),
    "Header": frozenset({"name", "size", "style", "underline", "value"}),
    "HyperText": frozenset(
        {
            "clickableLinks",
            "encoding",
            "granularity",
            "highlightColor",
            "inline",
            "name",
            "saveTextResult",
            "selectionEnabled",
            "showLabels",
            "value",
            "valueType",
        }
    ),
    "HyperTextLabels": frozenset({"choice", "maxUsages", "name", "showInline", "toName", "value"}),
    "Image": frozenset(
        {
            "brightnessControl",
            "contrastControl",
            "crossOrigin",
            "crosshair",
            "defaultZoom",
            "grid",
            "gridColor",
            "gridSize",
            "horizontalAlignment",
            "maxWidth",
            "name",
            "negativeZoom",
            "rotateControl",
            "smoothing",
            "value",
            "valueList",
            "verticalAlignment",
            "width",
            "zoom",
            "zoomBy",
            "zoomControl",
        }
    ),
    "KeyPoint": frozenset(
        {"fillColor", "name", "opacity", "smart", "smartOnly", "snap", "strokeColor", "strokeWidth", "toName"}
    ),
    "KeyPointLabels": frozenset(
        {
            "choice",
            "fillColor",
            "maxUsages",
            "name",
            "opacity",
            "showInline",
            "smart",
            "smartOnly",
            "snap",
            "strokeColor",
            "strokeWidth",
            "toName",
            "value",
        }
    ),
    "Label": frozenset(
        {
            "alias",
            "aliasStyle",
            "background",
            "category",
            "granularity",
            "hint",
            "hotkey",
            "html",
            "maxUsages",
            "selected",
            "selectedColor",
            "showAlias",
            "size",
            "value",
        }
    ),
    "Labels": frozenset(
        {
            "choice",
            "fillColor",
            "maxUsages",
            "name",
            "opacity",
            "showInline",
            "strokeColor",
            "strokeWidth",
            "toName",
            "value",
        }
    ),
    "List": frozenset({"name", "title", "value"}),
    "Magicwand": frozenset(
        {"blurRadius", "blurradius", "defaultThreshold", "defaultthreshold", "name", "opacity", "toName"}
    ),
    "Markdown": frozenset(
        {
            "className",
            "idAttr",
            "style",
            "value",
            "visibleWhen",
            "whenChoiceValue",
            "whenLabelValue",
            "whenTagName",
        }
    ),
    "MultiChannel": frozenset({"fixedScale", "height", "showAxis", "showYAxis"}),
    "Number": frozenset(
        {
            "defaultValue",
            "hotkey",
            "max",
            "min",
            "name",
            "perItem",
            "perRegion",
            "required",
            "requiredMessage",
            "slider",
            "step",
            "toName",
        }
    ),
    "Pairwise": frozenset({"name", "selectionStyle", "toName"}),
    "Panel": frozenset({"value"}),
    "ParagraphLabels": frozenset({"choice", "maxUsages", "name", "showInline", "toName", "value"}),
    "Paragraphs": frozenset(
        {
            "audioUrl",
            "contextScroll",
            "layout",
            "name",
            "nameKey",
            "saveTextResult",
            "showPlayer",
            "sync",
            "textKey",
            "value",
            "valueType",
        }
    ),
    "Pdf": frozenset({"name", "value"}),
    "Polygon": frozenset(
        {
            "fillColor",
            "name",
            "opacity",
            "pointSize",
            "pointStyle",
            "smart",
            "smartOnly",
            "snap",
            "strokeColor",
            "strokeWidth",
            "toName",
            "toname",
        }
    ),
    "PolygonLabels": frozenset(
        {
            "choice",
            "fillColor",
            "maxUsages",
            "name",
            "opacity",
            "pointSize",
            "pointStyle",
            "showInline",
            "smart",
            "smartOnly",
            "snap",
            "strokeColor",
            "strokeWidth",
            "toName",
            "value",
        }
    ),
    "Ranker": frozenset({"name", "toName"}),
    "Rating": frozenset(
        {
            "defaultValue",
            "hotkey",
            "maxRating",
            "name",
            "perItem",
            "perRegion",
            "required",
            "requiredMessage",
            "size",
            "toName",
        }
    ),
    "Rectangle": frozenset(
        {
            "canRotate",
            "fillColor",
            "name",
            "opacity",
            "smart",
            "smartOnly",
            "snap",
            "strokeColor",
            "strokeWidth",
            "toName",
        }
    ),
    "RectangleLabels": frozenset(
        {
            "canRotate",
            "choice",
            "fillColor",
            "maxUsages",
            "name",
            "opacity",
            "showInline",
            "smart",
            "smartOnly",
            "snap",
            "strokeColor",
            "strokeWidth",
            "toName",
            "value",
        }
    ),
    "Relation": frozenset({"background", "value"}),
    "Relations": frozenset({"choice"}),
    "Shortcut": frozenset({"alias", "background", "hotkey", "value"}),
    "Style": frozenset(),
    "Table": frozenset({"name", "value", "valueType"}),
    "Taxonomy": frozenset(
        {
            "apiUrl",
            "labeling",
            "leafsOnly",
            "legacy",
            "maxUsages",
            "maxWidth",
            "minWidth",
            "name",
            "pathSeparator",
            "perItem",
            "perRegion",
            "placeholder",
            "required",
            "requiredMessage",
            "showFullPath",
            "toName",
        }
    ),
    "Text": frozenset(
        {
            "encoding",
            "granularity",
            "highlightColor",
            "name",
            "saveTextResult",
            "selectionEnabled",
            "showLabels",
            "value",
            "valueType",
        }
    ),
    "TextArea": frozenset(
        {
            "displayMode",
            "editable",
            "maxSubmissions",
            "name",
            "perItem",
            "perRegion",
            "placeholder",
            "required",
            "requiredMessage",
            "rows",
            "showSubmitButton",
            "skipDuplicates",
            "toName",
            "transcription",
            "value",
        }
    ),
    "TimeSeries": frozenset(
        {
            "cursorColor",
            "durationDisplayFormat",
            "fixedScale",
            "name",
            "overviewChannels",
            "overviewWidth",
            "sep",
            "sync",
            "timeColumn",
            "timeDisplayFormat",
            "timeFormat",
            "value",
            "valueType",
        }
    ),
    "TimeSeriesLabels": frozenset(
        {
            "choice",
            "fillColor",
            "maxUsages",
            "name",
            "opacity",
            "showInline",
            "strokeColor",
            "strokeWidth",
            "toName",
            "toname",
            "value",
        }
    ),
    "TimelineLabels": frozenset({"name", "toName", "value"}),
    "Vector": frozenset(
        {
            "closable",
            "curves",
            "fillColor",
            "maxPoints",
            "minPoints",
            "name",
            "opacity",
            "pointSize",
            "pointSizeDisabled",
            "pointSizeEnabled",
            "pointStyle",
            "skeleton",
            "smart",
            "smartOnly",
            "snap",
            "strokeColor",
            "strokeWidth",
            "toName",
            "toname",
        }
    ),
    "VectorLabels": frozenset(
        {
            "choice",
            "closable",
            "curves",
            "fillColor",
            "maxPoints",
            "maxUsages",
            "minPoints",
            "name",
            "opacity",
            "pointSize",
            "pointSizeDisabled",
            "pointSizeEnabled",
            "pointStyle",
            "pointsizedisabled",
            "pointsizeenabled",
            "showInline",
            "skeleton",
            "smart",
            "smartOnly",
            "snap",
            "strokeColor",
            "strokeWidth",
            "toName",
            "value",
        }
    ),
    "Video": frozenset(
        {
            "defaultPlaybackSpeed",
            "frameRate",
            "height",
            "minPlaybackSpeed",
            "muted",
            "name",
            "sync",
            "timelineHeight",
            "value",
        }
    ),
    "VideoRectangle": frozenset({"name", "toName"}),
    "VideoVector": frozenset(
        {
            "closable",
            "curves",
            "fillColor",
            "maxPoints",
            "minPoints",
            "name",
            "opacity",
            "pointSize",
            "pointSizeDisabled",
            "pointSizeEnabled",
            "pointStyle",
            "skeleton",
            "snap",
            "strokeColor",
            "strokeWidth",
            "toName",
        }
    ),
    "VideoVectorLabels": frozenset(
        {
            "choice",
            "closable",
            "curves",
            "fillColor",
            "maxPoints",
            "maxUsages",
            "minPoints",
            "name",
            "opacity",
            "pointSize",
            "pointSizeDisabled",
            "pointSizeEnabled",
            "pointStyle",
            "showInline",
            "skeleton",
            "strokeColor",
            "strokeWidth",
            "toName",
            "value",
        }
    ),
    "View": frozenset(
        {
            "className",
            "display",
            "idAttr",
            "style",
            "visibleWhen",
            "whenChoiceValue",
            "whenLabelValue",
            "whenTagName",
        }
    ),
}


def allowed_attributes(tag: str) -> frozenset[str] | None:
    """Attributes `tag` accepts (its own plus COMMON_ATTRIBUTES), or None for an unknown tag."""
    own = TAG_ATTRIBUTES.get(tag)
    return None if own is None else own | COMMON_ATTRIBUTES
