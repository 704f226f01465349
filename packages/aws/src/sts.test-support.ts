import { Readable } from 'node:stream';

/** One request an STS client sent through `stubSts`'s handler. */
interface StubbedStsRequest {
  readonly hostname: string;
  readonly body: string;
  readonly authorization: string;
}

/**
 * A request handler for an STS client that records each request and answers `answer(n)` (status and XML)
 * to the n-th: STS answers moto cannot give (it checks neither trust policies, ExternalIds nor regions),
 * and what the SDK sent.
 */
export function stubSts(answer: (n: number) => { status: number; xml: string }) {
  const requests: StubbedStsRequest[] = [];
  const handler = {
    async handle(request: { hostname: string; body: unknown; headers: Record<string, string> }) {
      requests.push({
        hostname: request.hostname,
        body: String(request.body),
        authorization: request.headers.authorization ?? request.headers.Authorization ?? '',
      });
      const { status, xml } = answer(requests.length);
      return {
        response: { statusCode: status, headers: { 'content-type': 'text/xml' }, body: Readable.from([xml]) },
      };
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs() {
      return {};
    },
    destroy() {},
  };
  return { handler, requests };
}

/** STS's error answer with `code`. */
export const stsErrorXml = (code: string): string =>
  `<ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code><Message>refused by stub</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`;
