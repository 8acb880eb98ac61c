# teamgate's container image: the wheel, installed with its PostgreSQL and Redis extras.
#   docker build -t teamgate:0.1.0 .
#   docker run -v $PWD/teamgate.yaml:/etc/teamgate/teamgate.yaml:ro -p 8080:8080 teamgate:0.1.0
# The install steps are the ones CI runs (tests/project/packaging/test_wheel.py): `python -m build`,
# then `pip install <wheel>[postgres,redis] -c constraints.txt`, the constraints being
# requirements.lock's pins without their hashes (pip's hash mode needs every requirement
# hashed, and the wheel just built has none; scripts/bootstrap installs the lock hashed).

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml requirements.lock README.md ./
COPY src ./src
RUN sed 's/ --hash=[^ ]*//g' requirements.lock > /tmp/constraints.txt \
    && python -m pip install --no-cache-dir build==1.6.1 -c /tmp/constraints.txt \
    && python -m build --outdir /dist .

FROM python:3.11-slim AS runtime
COPY --from=build /dist/ /tmp/dist/
COPY requirements.lock /tmp/requirements.lock
RUN sed 's/ --hash=[^ ]*//g' /tmp/requirements.lock > /tmp/constraints.txt \
    && wheel="$(ls /tmp/dist/teamgate-*.whl)" \
    && python -m pip install --no-cache-dir "${wheel}[postgres,redis]" -c /tmp/constraints.txt \
    && rm -rf /tmp/dist /tmp/requirements.lock /tmp/constraints.txt \
    && useradd --create-home --uid 10001 --user-group teamgate
USER 10001:10001
WORKDIR /home/teamgate
# The config is mounted here (Docker/Kubernetes); secrets come as env vars or files
# (secret: env:NAME / file:/run/secrets/NAME), the admin key as $TEAMGATE_ADMIN_KEY.
ENV TEAMGATE_CONFIG=/etc/teamgate/teamgate.yaml \
    PYTHONUNBUFFERED=1
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=3s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/readyz', timeout=2).status != 200)"]
ENTRYPOINT ["teamgate"]
CMD ["serve", "--host", "0.0.0.0"]
