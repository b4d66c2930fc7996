# The service image, used by docker-compose.yml for both `app` (npm start) and `sandbox` (npm run sandbox).
# NODE_ENV is left unset on purpose: the demo runs with the config's development defaults, and
# `npm ci` keeps the dev dependencies (drizzle-kit) that the db:* scripts use.
FROM node:26-trixie-slim

WORKDIR /app
RUN chown node:node /app
USER node

# Dependencies first, so editing the source does not invalidate this layer.
COPY --chown=node:node package.json package-lock.json ./
RUN npm ci && npm cache clean --force

COPY --chown=node:node . .
RUN npm run build

EXPOSE 3000
CMD ["node", "dist/main.js"]
