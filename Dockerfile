# Bring-your-own-container image for the vehicle classifier on SageMaker (real-time or serverless).
# SageMaker starts it as `docker run <image> serve`: ENTRYPOINT + that argument run `model.cli serve`,
# which listens on 0.0.0.0:8080 and answers GET /ping and POST /invocations (model/serving/server.py).
# Build:  docker build -t vehicle-classifier .      Run: docker run -p 8080:8080 vehicle-classifier
# The model is baked in (model/artifacts); a model.tar.gz given to CreateModel (extracted by SageMaker
# to /opt/ml/model) takes precedence.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    MODEL_SERVER_HOST=0.0.0.0 \
    MODEL_SERVER_PORT=8080

# Serving needs only these: no torch, no AWS SDK.
RUN pip install --no-cache-dir "onnxruntime>=1.20" "pillow>=11.3" "pi-heif>=1.4,<2" "numpy>=1.26" \
    "click>=8.1" "waitress>=3.0" "pydantic>=2.7,<3"

# The serving code, the metadata schema and the model; training and evaluation stay out of the image.
WORKDIR /opt/program
COPY model/__init__.py model/cli.py model/metadata.py /opt/program/model/
COPY model/serving/ /opt/program/model/serving/
# The chain's one decoder and its formats table: the server decodes uploads as ingest and the classifier do.
COPY shared/__init__.py shared/decoding.py shared/formats.py /opt/program/shared/
COPY model/artifacts/ /opt/program/model/artifacts/
ENV PYTHONPATH=/opt/program

RUN useradd --system --uid 1000 --no-create-home model && chown -R model /opt/program
USER model

EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/ping').status != 200)"

ENTRYPOINT ["python", "-m", "model.cli"]
CMD ["serve"]
