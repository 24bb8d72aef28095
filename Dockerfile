# Builds meshboi and runs a rolodex by default. A member needs the TUN device and NET_ADMIN:
#   docker run --cap-add NET_ADMIN --device /dev/net/tun meshboi member --network ... --psk-file ...
FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
# The node image ships Node's headers; point node-gyp at them so the addon builds offline.
ENV npm_config_nodedir=/usr/local
WORKDIR /app
COPY package.json package-lock.json tsconfig.json binding.gyp* ./
COPY native ./native
RUN npm ci --ignore-scripts
COPY . .
RUN npm rebuild && npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends iproute2 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app /app
EXPOSE 6264/udp
ENTRYPOINT ["node", "/app/dist/cmd/meshboi.js"]
CMD ["rolodex"]
