# voxel2pixel: v2p-server, v2p-worker and the v2p CLI.
#   docker build -t voxel2pixel:0.1.0 .
# CUDA variant: build on an image that provides a CUDA LibTorch and point
# CMake at it (see README "Deploying"); the code is the same.

FROM debian:12 AS build
WORKDIR /src
COPY scripts/install_deps.sh scripts/
RUN ./scripts/install_deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
 && cmake --build /build -j"$(nproc)" --target v2p-server v2p-worker v2p

FROM debian:12-slim AS runtime
# Shared libraries only: no compilers, no -dev packages.
RUN apt-get update && apt-get install -y --no-install-recommends \
      libgrpc++1.51 libprotobuf32 libtorch1.13 libopenblas0-pthread libmatio11 \
      libnifti2-2 libznz3 \
      libopencv-core406 libopencv-imgproc406 libopencv-imgcodecs406 \
      libabsl20220623 libprometheus-cpp-core1.0 libssl3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /repo v2p \
 && mkdir -p /repo && chown v2p /repo
COPY --from=build /build/bin/v2p-server /build/bin/v2p-worker /build/bin/v2p /build/bin/v2p-lab /usr/local/bin/
USER 10001
VOLUME ["/repo"]
EXPOSE 8500 8501 8600 8601
ENTRYPOINT ["/usr/local/bin/v2p-server"]
CMD ["--host=0.0.0.0", "--port=8500", "--metrics_port=8501", "--repo=/repo", "--workers=spawn:1"]
