# codesign with CPU PyTorch, ONNX, qonnx, hls4ml and g++ for hls4ml C simulation.
#
#   docker build -t codesign .
#   docker run --rm codesign                      # the README's test command (make test), csim included
#   docker run --rm codesign codesign list models
#
# The install step is the README's: `make install` (a venv with the pins of constraints.txt and
# codesign in editable mode). PyTorch: the constraints pin torch==2.13.0; to get its CPU-only build
# instead of the default Linux (CUDA) build, pass PyTorch's CPU wheel index as an extra index:
#   docker build --build-arg PIP_EXTRA_INDEX_URL=<PyTorch CPU wheel index URL> -t codesign .
#
# Vendor HLS tools are not in the image: mount an installation read-only at /opt/Xilinx and put its
# bin folder on PATH to synthesise a written hls4ml project in the container (README.md, "Docker").
FROM python:3.11.14-slim-bookworm

# g++ compiles hls4ml's C simulation; make runs the README's commands.
RUN apt-get update \
    && apt-get install -y --no-install-recommends g++=4:12.2.0-3 make=4.3-4.1 \
    && rm -rf /var/lib/apt/lists/*

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1

# An unprivileged user, numeric so that hosts and mounted folders see the same id.
RUN groupadd --gid 1000 codesign \
    && useradd --create-home --uid 1000 --gid 1000 --shell /bin/bash codesign \
    && install -d -o 1000 -g 1000 /home/codesign/codesign
USER 1000:1000
WORKDIR /home/codesign/codesign
ENV PATH=/home/codesign/codesign/.venv/bin:$PATH

# Dependencies first: this layer is rebuilt only when the install recipe, the pins or the package
# metadata change. The editable install maps the package folder, so its root module is enough here.
COPY --chown=1000:1000 Makefile pyproject.toml constraints.txt README.md ./
COPY --chown=1000:1000 codesign/__init__.py codesign/__init__.py
ARG PIP_EXTRA_INDEX_URL=""
RUN make install

# The rest of the repository; `make install` again is a no-op unless the pins changed meanwhile.
COPY --chown=1000:1000 . .
RUN make install

CMD ["make", "test"]
