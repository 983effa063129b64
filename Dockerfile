FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    HTTP_HOST=0.0.0.0 HTTP_PORT=8080 DATA_DIR=/app/data

WORKDIR /app

# What the printable QR label draws with (bot/label/fonts.py DEBIAN_PACKAGES): FriBiDi, which
# Pillow's bundled libraqm loads to shape and order text, and the Noto fonts for Latin, Arabic,
# Thai and Chinese.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libfribidi0 fonts-noto-core fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*

# Dependencies (and the build backend) in a layer of their own, exactly as locked, each checked
# against its hash: changing the code rebuilds only the small layer below, not this one.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock

# The bot itself; its dependencies are already installed.
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY storage ./storage
RUN pip install --no-deps --no-build-isolation . \
    && rm -rf build *.egg-info \
    && useradd --create-home --uid 10001 paylink \
    && install -d -m 0700 -o paylink /app/data

USER paylink
VOLUME ["/app/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('HTTP_PORT', '8080'), timeout=4)"
CMD ["paylink-bot", "run"]
