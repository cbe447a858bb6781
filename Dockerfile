# medlabel platform image: web service, RQ worker and ML backend share it (different commands).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 UV_COMPILE_BYTECODE=1
# tesseract + Korean/English data: ingest OCRs burned-in text in ultrasound and screen captures.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-kor \
    && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml README.md ./
COPY medlabel ./medlabel
COPY config_templates ./config_templates
COPY plugins ./plugins
COPY ml_backend ./ml_backend
COPY sync ./sync
RUN --mount=type=cache,target=/root/.cache/uv uv pip install --system .
RUN useradd --system --uid 1001 medlabel && mkdir -p /data && chown medlabel /data
USER medlabel
EXPOSE 8090 9090
CMD ["gunicorn", "--bind", "0.0.0.0:8090", "--workers", "2", "medlabel.app:create_app()"]
