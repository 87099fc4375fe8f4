/**
 * API Gateway HTTP API (payload format 2.0) events and a Lambda context, shaped as API Gateway sends
 * them to a `$default` route: lowercased headers, rawPath + rawQueryString, requestContext.http.method,
 * and a body that is a string (base64 when `isBase64Encoded`). For driving functions/lambda.ts's
 * `handler` without an HTTP server in between.
 */
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyResult, LambdaContext, LambdaEvent } from 'hono/aws-lambda';

export interface ApiGatewayV2Event {
  version: '2.0';
  routeKey: '$default';
  rawPath: string;
  rawQueryString: string;
  cookies?: string[];
  headers: Record<string, string>;
  queryStringParameters?: Record<string, string>;
  requestContext: {
    accountId: string;
    apiId: string;
    domainName: string;
    domainPrefix: string;
    requestId: string;
    routeKey: '$default';
    stage: '$default';
    time: string;
    timeEpoch: number;
    http: { method: string; path: string; protocol: string; sourceIp: string; userAgent: string };
  };
  body?: string;
  isBase64Encoded: boolean;
}

export interface EventOptions {
  /** JSON-encoded unless a string. */
  body?: unknown;
  /** Sent as `Authorization: Bearer <key>`. */
  key?: string;
  /** Without the `?`. */
  query?: string;
  headers?: Record<string, string>;
  /** Send the body base64-encoded, as API Gateway does for binary media. */
  base64?: boolean;
}

export function apiGatewayV2Event(method: string, rawPath: string, o: EventOptions = {}): ApiGatewayV2Event {
  const headers: Record<string, string> = { host: 'api.example.com', 'user-agent': 'curl/8', 'content-type': 'application/json' };
  for (const [k, v] of Object.entries(o.headers ?? {})) headers[k.toLowerCase()] = v;
  if (o.key) headers.authorization = `Bearer ${o.key}`;
  const text = o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
  if (text !== undefined) headers['content-length'] = String(Buffer.byteLength(text));
  const query = o.query ?? '';
  const now = new Date();
  const requestId = randomUUID();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString: query,
    headers,
    // API Gateway also parses the query (repeated keys joined by commas).
    ...(query
      ? {
          queryStringParameters: Object.fromEntries(
            [...new URLSearchParams(query).keys()].map((k) => [k, new URLSearchParams(query).getAll(k).join(',')]),
          ),
        }
      : {}),
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example.com',
      domainPrefix: 'api',
      requestId,
      routeKey: '$default',
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
      http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '203.0.113.1', userAgent: 'curl/8' },
    },
    ...(text === undefined ? {} : { body: o.base64 ? Buffer.from(text).toString('base64') : text }),
    isBase64Encoded: Boolean(o.base64 && text !== undefined),
  };
}

export function lambdaContext(functionName = 'api'): LambdaContext {
  const awsRequestId = randomUUID();
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `2026/01/01/[$LATEST]${awsRequestId.replace(/-/g, '')}`,
    getRemainingTimeInMillis: () => 30_000,
  };
}

/** What a Lambda proxy answer says, with the body decoded. */
export interface LambdaHttpResponse {
  status: number;
  headers: Record<string, string>;
  text: string;
  json<T>(): T;
}

type Handler = (event: LambdaEvent, context: LambdaContext) => Promise<APIGatewayProxyResult>;

/** Invokes `handler` with a v2 event and decodes its answer (base64 bodies included). */
export async function invokeLambda(handler: Handler, method: string, rawPath: string, o: EventOptions = {}): Promise<LambdaHttpResponse> {
  // The v2 shape above is what API Gateway sends; hono's type asks for fields it does not send (authorizer).
  const out = await handler(apiGatewayV2Event(method, rawPath, o) as unknown as LambdaEvent, lambdaContext());
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(out.headers ?? {})) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
  const text = out.isBase64Encoded ? Buffer.from(out.body, 'base64').toString('utf8') : out.body;
  return { status: out.statusCode, headers, text, json: <T>() => JSON.parse(text) as T };
}
