/**
 * The OpenAPI 3 document of the HTTP API, at `/docs/json` (and `/docs/yaml`), and a page to read
 * it at `/docs` (issue 4, point 6). @fastify/swagger collects the routes as they are registered,
 * so a route cannot exist without appearing in the document.
 *
 * One source for validation and documentation: requests are validated by valibot inside the
 * handlers (`parseBody`, `parseAccountId`), and `documented()` converts those very schemas with
 * @valibot/to-json-schema into the route's `schema`. That schema is documentation only: the route
 * also gets a validator compiler that accepts everything and a serializer compiler that is plain
 * `JSON.stringify` (what Fastify does for a route without a response schema), so ajv never judges
 * a request a second time and answers keep their exact shape and messages (valibot's
 * `400 { code: 'ERR_VALIDATION', message }`).
 *
 * Public by design: the document names the security schemes and where a credential goes, never
 * a credential.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { toJsonSchema, type ConversionConfig, type JsonSchema } from '@valibot/to-json-schema';
import type {
  FastifyInstance,
  FastifySchema,
  FastifySchemaCompiler,
  FastifySerializerCompiler,
  LogLevel,
} from 'fastify';
import type * as v from 'valibot';

import packageJson from '../../package.json' with { type: 'json' };

export const DOCS_PATH = '/docs';

/** `security` of a route: any one of the listed schemes admits the request. */
export const SECURITY = {
  /** No credentials (health, metrics, the tracked link, the login form). */
  public: [],
  /** `Authorization: Bearer <API_TOKEN>`. */
  api: [{ apiToken: [] }],
  /** The settings page: the API token as a bearer header, or the session cookie of its login. */
  settingsPage: [{ apiToken: [] }, { settingsSession: [] }],
  /** WEBHOOK_TOKEN in the query, in `x-webhook-token`, or as a bearer token. */
  webhook: [{ webhookToken: [] }, { webhookTokenHeader: [] }, { webhookBearer: [] }],
  /** ADMIN_USER / ADMIN_PASSWORD, HTTP basic. */
  admin: [{ adminBasic: [] }],
  /** The Google-signed OIDC token of the Pub/Sub push subscription (when PUBSUB_PUSH_AUDIENCE). */
  push: [{ googleOidc: [] }],
} as const satisfies Record<string, ReadonlyArray<Record<string, readonly string[]>>>;

const SECURITY_SCHEMES = {
  apiToken: {
    type: 'http',
    scheme: 'bearer',
    description: 'API_TOKEN of this service.',
  },
  settingsSession: {
    type: 'apiKey',
    in: 'cookie',
    name: 'wa_settings_session',
    description:
      'Session cookie set by `POST /settings/login`. State-changing requests made with it carry the session CSRF token in `x-csrf-token`.',
  },
  webhookToken: {
    type: 'apiKey',
    in: 'query',
    name: 'token',
    description: 'WEBHOOK_TOKEN, in the callback URL configured at Gupshup.',
  },
  webhookTokenHeader: {
    type: 'apiKey',
    in: 'header',
    name: 'x-webhook-token',
    description: 'WEBHOOK_TOKEN, as a header.',
  },
  webhookBearer: {
    type: 'http',
    scheme: 'bearer',
    description: 'WEBHOOK_TOKEN, as a bearer token.',
  },
  adminBasic: {
    type: 'http',
    scheme: 'basic',
    description: 'ADMIN_USER and ADMIN_PASSWORD.',
  },
  googleOidc: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description:
      'Google-signed OIDC token of the push subscription: audience PUBSUB_PUSH_AUDIENCE, and the service account PUBSUB_PUSH_SERVICE_ACCOUNT when set.',
  },
} as const;

const TAGS = [
  { name: 'settings', description: "A client's WhatsApp settings." },
  { name: 'connections', description: 'The Gupshup apps a client may send through.' },
  {
    name: 'templates',
    description: 'Templates verified with Gupshup, and the variables they use.',
  },
  { name: 'activity', description: "A shipment's timeline." },
  {
    name: 'outcomes',
    description: 'What became of the failed-delivery attempts: the funnel and the rescue rate.',
  },
  {
    name: 'suppressions',
    description:
      'Numbers a sender does not message: the customer opted out, or is not on WhatsApp.',
  },
  { name: 'settings page', description: 'The server-rendered settings page and its form posts.' },
  { name: 'customers', description: 'What customers open from their WhatsApp messages.' },
  { name: 'ingress', description: 'Events from Gupshup and Pub/Sub.' },
  { name: 'operations', description: 'Probes, metrics and the queue board.' },
] as const;

export type Tag = (typeof TAGS)[number]['name'];

/**
 * What a status answers. A string is a description with the usual body: none for 204 and
 * redirects, `{ code, message }` from 400 up, a JSON object otherwise.
 */
export type ResponseDoc = string | { description: string; body: 'json' | 'html' | 'text' | 'none' };

/** A route's documentation: what `documented()` turns into its OpenAPI operation. */
export interface RouteDoc {
  tags: readonly Tag[];
  summary: string;
  description?: string;
  security: (typeof SECURITY)[keyof typeof SECURITY];
  /** The valibot schemas the handler validates with, by request part. */
  params?: v.GenericSchema;
  querystring?: v.GenericSchema;
  body?: v.GenericSchema;
  /** The body's media types, when not JSON (with `body`). */
  consumes?: readonly string[];
  responses: Readonly<Record<number, ResponseDoc>>;
}

const JSON_BODY = { type: 'object', additionalProperties: true } as const;

const ERROR_BODY = {
  type: 'object',
  properties: {
    code: { type: 'string', description: 'Stable error code, e.g. ERR_VALIDATION' },
    message: { type: 'string' },
  },
  required: ['code', 'message'],
} as const;

/**
 * valibot → JSON Schema, for the OpenAPI 3.0 dialect and the input a client sends (conversion
 * stops at a pipe's first transformation). Actions JSON Schema cannot express are made explicit
 * here rather than silently dropped; anything else that cannot be converted throws at startup,
 * which every integration test would notice.
 */
const CONVERSION: ConversionConfig = {
  target: 'openapi-3.0',
  typeMode: 'input',
  errorMode: 'throw',
  overrideAction({ valibotAction, jsonSchema }) {
    switch (valibotAction.type) {
      case 'trim':
        // A normalization, not a constraint: the value is trimmed before it is judged.
        return jsonSchema;
      case 'check': {
        // A cross-field rule: its message says what it requires.
        const message: unknown = 'message' in valibotAction ? valibotAction.message : undefined;
        const rule = typeof message === 'string' ? message : 'see the route description';
        return { ...jsonSchema, description: join(jsonSchema.description, rule) };
      }
      case 'base64': {
        // OpenAPI 3.0 spells base64 as format `byte`; `contentEncoding` is JSON Schema 2019+.
        const { contentEncoding: _, ...rest } = jsonSchema;
        return { ...rest, format: 'byte' };
      }
      default:
        return undefined;
    }
  },
  overrideSchema({ jsonSchema, errors }) {
    return errors === undefined ? toOpenApi30(jsonSchema) : undefined;
  },
};

/** Fixes what OpenAPI 3.0 reads differently from JSON Schema, or undefined when nothing is. */
function toOpenApi30(schema: JsonSchema): JsonSchema | undefined {
  // An empty `required` is invalid there (valibot writes one for an all-optional object).
  if (Array.isArray(schema.required) && schema.required.length === 0) {
    const { required: _, ...rest } = schema;
    return toOpenApi30(rest) ?? rest;
  }
  // `nullable` only applies next to a `type`: a nullable union is a union of nullable branches.
  if (schema.nullable === true && schema.type === undefined && schema.anyOf) {
    const { nullable: _, anyOf, ...rest } = schema;
    return {
      ...rest,
      anyOf: anyOf.map((branch) =>
        typeof branch === 'object' ? { ...branch, nullable: true } : branch,
      ),
    };
  }
  return undefined;
}

function join(first: string | undefined, second: string): string {
  return first ? `${first}. ${second}` : second;
}

/** A valibot schema as the document shows it. */
function jsonSchemaOf(schema: v.GenericSchema): JsonSchema {
  return toJsonSchema(schema, CONVERSION);
}

/** The schemas are documentation: every request reaches the handler, which validates it. */
const acceptEverything: FastifySchemaCompiler<unknown> = () => () => true;
const plainJson: FastifySerializerCompiler<unknown> = () => (data: unknown) => JSON.stringify(data);

/** @fastify/swagger's key for a response's description that is not also the body's. */
const DESCRIPTION = 'x-response-description';

function responseSchema(status: number, doc: ResponseDoc): Record<string, unknown> {
  if (typeof doc === 'string') {
    if (status === 204 || (status >= 300 && status < 400)) {
      return { [DESCRIPTION]: doc, type: 'null' };
    }
    return { [DESCRIPTION]: doc, ...(status >= 400 ? ERROR_BODY : JSON_BODY) };
  }
  const { description, body } = doc;
  if (body === 'json') {
    return { [DESCRIPTION]: description, ...JSON_BODY };
  }
  if (body === 'none') {
    return { [DESCRIPTION]: description, type: 'null' };
  }
  const mediaType = body === 'html' ? 'text/html' : 'text/plain';
  return { description, content: { [mediaType]: { schema: { type: 'string' } } } };
}

/**
 * Route options that document a route from the valibot schemas its handler validates with,
 * without Fastify validating or serializing anything itself (see the header).
 */
export function documented(doc: RouteDoc): {
  schema: FastifySchema;
  validatorCompiler: FastifySchemaCompiler<unknown>;
  serializerCompiler: FastifySerializerCompiler<unknown>;
} {
  return {
    schema: {
      tags: doc.tags,
      summary: doc.summary,
      ...(doc.description === undefined ? {} : { description: doc.description }),
      security: doc.security,
      ...(doc.params ? { params: jsonSchemaOf(doc.params) } : {}),
      ...(doc.querystring ? { querystring: jsonSchemaOf(doc.querystring) } : {}),
      ...(doc.body ? { body: jsonSchemaOf(doc.body) } : {}),
      ...(doc.consumes ? { consumes: doc.consumes } : {}),
      response: Object.fromEntries(
        Object.entries(doc.responses).map(([status, response]) => [
          status,
          responseSchema(Number(status), response),
        ]),
      ),
    },
    validatorCompiler: acceptEverything,
    serializerCompiler: plainJson,
  };
}

/** Route options that keep a route out of the document (static assets). */
export const undocumented = { schema: { hide: true } } as const;

/** One method of one route, as Fastify registered it. */
export interface RegisteredRoute {
  method: string;
  url: string;
}

const registered = new WeakMap<FastifyInstance, RegisteredRoute[]>();

/** Records every route registered on `app` from now on, for `registeredRoutes` (tests). */
export function recordRoutes(app: FastifyInstance): void {
  const routes: RegisteredRoute[] = [];
  registered.set(app, routes);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      routes.push({ method, url: route.url });
    }
  });
}

/** Every method and URL registered on `app` since `recordRoutes(app)`, HEAD included. */
export function registeredRoutes(app: FastifyInstance): readonly RegisteredRoute[] {
  return registered.get(app) ?? [];
}

/**
 * @fastify/swagger (collects the routes registered after it) and the page at `/docs`. Call
 * before any route is registered.
 */
export async function registerOpenApi(app: FastifyInstance, uiLogLevel: LogLevel): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'WhatsApp failed-delivery notifications',
        version: packageJson.version,
        description: `${packageJson.description}. Requests are validated with the schemas shown here; a request that does not match them is answered 400 \`{ code: 'ERR_VALIDATION', message }\`, the message naming each problem.`,
      },
      tags: [...TAGS],
      components: { securitySchemes: SECURITY_SCHEMES },
    },
  });
  // The page pulls a dozen assets; like Bull Board's, their request lines only when they fail.
  await app.register(swaggerUi, { routePrefix: DOCS_PATH, logLevel: uiLogLevel });
}
