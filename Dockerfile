# gnnjet on a CUDA PyTorch base image. Build: docker build -t gnnjet .   Run: ./run_docker.sh
ARG BASE_IMAGE=pytorch/pytorch:2.9.1-cuda12.8-cudnn9-runtime
FROM ${BASE_IMAGE}

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/opt/gnnjet/bin:${PATH}

WORKDIR /opt/gnnjet

# The base image already provides a CUDA torch: install the requirements without replacing it.
COPY requirements.txt ./
RUN grep -v '^torch==' requirements.txt > /tmp/requirements-image.txt \
    && python -m pip install --no-cache-dir -r /tmp/requirements-image.txt

# Optional PyG extras (torch-scatter, torch-cluster) from the PyG wheel index where wheels exist
# for this torch/CUDA pair; gnnjet works without them (it owns its knn).
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN TORCH_TAG="$(python -c 'import torch; v=torch.__version__.split("+")[0]; c=(torch.version.cuda or "cpu").replace(".",""); print(f"{v}+" + ("cu"+c if c!="cpu" else "cpu"))')" \
    && (python -m pip install --no-cache-dir torch-scatter==2.1.2 torch-cluster==1.6.3 --only-binary=:all: \
        -f "https://data.pyg.org/whl/torch-${TORCH_TAG}.html" \
        || echo "no prebuilt torch-scatter/torch-cluster for torch ${TORCH_TAG}: skipped")

COPY pyproject.toml README.md ./
COPY gnnjet ./gnnjet
COPY bin ./bin
COPY configs ./configs
RUN python -m pip install --no-cache-dir --no-deps . && chmod +x bin/*.py

WORKDIR /workspace
CMD ["bash"]
