# Budgetline API. In a container DATABASE_URL is required (no embedded PostgreSQL).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY budgetline ./budgetline
COPY schema ./schema
COPY resolvers ./resolvers
COPY db ./db
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir .

FROM python:3.11-slim
RUN useradd --system --create-home --uid 10001 budgetline
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    BUDGETLINE_HOST=0.0.0.0 \
    BUDGETLINE_PORT=8000
USER budgetline
WORKDIR /home/budgetline
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"
# Refuse to start without DATABASE_URL rather than run a throwaway database inside the container.
CMD ["sh", "-c", ": \"${DATABASE_URL:?DATABASE_URL is required in a container}\" && exec budgetline serve --host 0.0.0.0 --port 8000"]
