# The edge for docker-compose: the Worker in workerd through `wrangler dev`, as `npm start` runs it.
# Build from the repository root (docker-compose.yml does). Not a production image: production
# deploys the Worker to Cloudflare (`wrangler deploy --env production`, docs/deploy.md).
FROM node:22-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
# wrangler and workerd are dev dependencies; workerd's binary ships in its npm package.
RUN npm ci --no-audit --no-fund && npm cache clean --force
COPY . .
ENV WRANGLER_SEND_METRICS=false \
    CLOUDFLARE_CF_FETCH_ENABLED=false \
    CI=true
EXPOSE 8787
# The vars (internal secret, region URLs, geo headers) come from the container's environment.
CMD ["/bin/sh", "-ec", "printf 'PIXMESH_INTERNAL_SECRET=%s\\nPIXMESH_REGION_URLS=%s\\nPIXMESH_TRUST_GEO_HEADERS=%s\\n' \"$PIXMESH_INTERNAL_SECRET\" \"$PIXMESH_REGION_URLS\" \"$PIXMESH_TRUST_GEO_HEADERS\" > /tmp/edge.env && exec node node_modules/wrangler/bin/wrangler.js dev --ip 0.0.0.0 --port 8787 --env-file /tmp/edge.env --persist-to /state --show-interactive-dev-session=false"]
