# One image for every service; the command chooses which one runs:
#   docker run partnerhub python -m services.reporting
# Multi-stage: dependencies are built in a full image, copied into a slim one
# that runs as an unprivileged user.
FROM python:3.11-slim AS build
WORKDIR /src
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY pyproject.toml constraints.txt README.md ./
COPY shared ./shared
COPY services ./services
RUN python -m venv /opt/partnerhub \
 && /opt/partnerhub/bin/pip install -c constraints.txt .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --no-create-home partnerhub
COPY --from=build /opt/partnerhub /opt/partnerhub
ENV PATH=/opt/partnerhub/bin:$PATH PYTHONUNBUFFERED=1 HTTP_HOST=0.0.0.0
USER 10001
EXPOSE 8000
CMD ["python", "-m", "services.reporting"]
