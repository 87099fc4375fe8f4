/**
 * The CDN: one CloudFront distribution in front of the API and the adapter files.
 *
 * Layout (API routes stay at the root, unchanged):
 *   adapters/<task>/<version>/{adapter.safetensors, adapter_config.json, metrics.json}
 *                       -> the registry bucket (origin access control), signed URLs only, cached long:
 *                          versions are immutable. API routes never end in a file name, so these
 *                          patterns cannot take an API request.
 *   adapters/<task>/predict  -> the API (the inference function), not cached, all methods: a POST.
 *   adapters*  GET/HEAD -> the API, cached briefly, with Authorization in the cache key.
 *   default (*)         -> the API, not cached, all methods.
 * The bucket origin has no origin path: a URL path is the object key (distribution root = bucket root).
 */
import { Duration, Fn } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ADAPTER_FILES, OPTIONAL_ADAPTER_FILES, PREFIXES } from '../shared/registry/index.ts';
import { CdnKeyPair } from './cdn-key-pair.ts';
import { acknowledge } from './nag.ts';

/** CloudFront path patterns served from the bucket, one per adapter version file. */
export const FILE_PATH_PATTERNS = [...ADAPTER_FILES, ...OPTIONAL_ADAPTER_FILES].map((file) => `${PREFIXES.adapters}*/*/${file}`);
export const API_CACHED_PATH_PATTERN = 'adapters*';
/** POST /adapters/:task/predict: before API_CACHED_PATH_PATTERN, whose GET/HEAD-only behaviour would refuse the POST. */
export const PREDICT_PATH_PATTERN = 'adapters/*/predict';

export interface EdgeProps {
  registry: s3.IBucket;
  logBucket: s3.IBucket;
  /** The HTTP API's endpoint, https://<id>.execute-api.<region>.amazonaws.com */
  apiEndpoint: string;
  keyRotation: string;
}

export class Edge extends Construct {
  readonly distribution: cloudfront.Distribution;
  readonly keyPair: CdnKeyPair;

  constructor(scope: Construct, id: string, props: EdgeProps) {
    super(scope, id);

    this.keyPair = new CdnKeyPair(this, 'SigningKey', { rotation: props.keyRotation });

    const apiOrigin = new origins.HttpOrigin(Fn.select(2, Fn.split('/', props.apiEndpoint)), {
      protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
      originSslProtocols: [cloudfront.OriginSslPolicy.TLS_V1_2],
    });
    // API Gateway routes by Host, so the viewer's Host must not reach it; everything else does
    // (with caching disabled, this policy forwards Authorization too).
    const apiRequests = cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER;

    const apiReads = new cloudfront.CachePolicy(this, 'ApiReads', {
      comment: 'GET /adapters*: short-lived, per API key',
      defaultTtl: Duration.seconds(30),
      minTtl: Duration.seconds(0),
      maxTtl: Duration.seconds(60),
      // Authorization in the key: a cached answer is only served to a request with the same key.
      headerBehavior: cloudfront.CacheHeaderBehavior.allowList('Authorization'),
      queryStringBehavior: cloudfront.CacheQueryStringBehavior.all(),
      cookieBehavior: cloudfront.CacheCookieBehavior.none(),
      enableAcceptEncodingGzip: true,
      enableAcceptEncodingBrotli: true,
    });

    const immutableFiles = new cloudfront.CachePolicy(this, 'ImmutableFiles', {
      comment: 'Adapter version files: immutable once published',
      defaultTtl: Duration.days(365),
      minTtl: Duration.days(1),
      maxTtl: Duration.days(365),
      // The signature query string is checked before the cache and is not part of the key.
      queryStringBehavior: cloudfront.CacheQueryStringBehavior.none(),
      headerBehavior: cloudfront.CacheHeaderBehavior.none(),
      cookieBehavior: cloudfront.CacheCookieBehavior.none(),
      enableAcceptEncodingGzip: true,
      enableAcceptEncodingBrotli: true,
    });

    const bucketOrigin = origins.S3BucketOrigin.withOriginAccessControl(props.registry, {
      originAccessLevels: [cloudfront.AccessLevel.READ],
    });
    const files: cloudfront.BehaviorOptions = {
      origin: bucketOrigin,
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
      cachePolicy: immutableFiles,
      trustedKeyGroups: [this.keyPair.keyGroup],
      compress: true,
    };

    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'Adapter store: API and signed adapter downloads',
      priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      enableLogging: true,
      logBucket: props.logBucket,
      logFilePrefix: 'cdn/',
      defaultBehavior: {
        origin: apiOrigin,
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
        cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
        originRequestPolicy: apiRequests,
      },
      // Order matters: CloudFront takes the first pattern that matches.
      additionalBehaviors: {
        ...Object.fromEntries(FILE_PATH_PATTERNS.map((p) => [p, files])),
        [PREDICT_PATH_PATTERN]: {
          origin: apiOrigin,
          viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
          allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
          cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
          originRequestPolicy: apiRequests,
        },
        [API_CACHED_PATH_PATTERN]: {
          origin: apiOrigin,
          viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
          allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD_OPTIONS,
          cachedMethods: cloudfront.CachedMethods.CACHE_GET_HEAD,
          cachePolicy: apiReads,
          originRequestPolicy: apiRequests,
        },
      },
    });

    // The origin access control grant covers bucket/*; CloudFront may only ever read adapters/*.
    props.registry.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CdnReadsAdaptersOnly',
        effect: iam.Effect.DENY,
        principals: [new iam.ServicePrincipal('cloudfront.amazonaws.com')],
        actions: ['s3:GetObject'],
        notResources: [props.registry.arnForObjects(`${PREFIXES.adapters}*`)],
      }),
    );

    acknowledge(this.distribution, {
      'AwsSolutions-CFR1': 'Adapters are served worldwide to API-key holders through signed URLs; there is no country to exclude.',
      'AwsSolutions-CFR2':
        'The API authenticates every non-public route and is throttled at API Gateway; WAF is left to deployments that need it (its web ACL costs more than this stack).',
      'AwsSolutions-CFR4':
        'The distribution uses the default *.cloudfront.net certificate, for which CloudFront fixes the minimum protocol; a custom domain with TLSv1.2_2021 is a deployment choice.',
    });
  }

  get url(): string {
    return `https://${this.distribution.distributionDomainName}`;
  }
}
