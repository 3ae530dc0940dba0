import { Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { loadPackageDefinition, type GrpcObject } from '@grpc/grpc-js';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** A raw unary call: any bytes to any method, the answer's bytes or the call's error (hostile clients). */
export function rawUnary(
  address: string,
  path: string,
  body: Buffer,
  options: { deadlineMs?: number; metadata?: Record<string, string> } = {},
): Promise<{ bytes?: Buffer; error?: ServiceError }> {
  const client = new Client(address, credentials.createInsecure());
  const metadata = new Metadata();
  for (const [k, v] of Object.entries(options.metadata ?? {})) metadata.set(k, v);
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      body,
      metadata,
      options.deadlineMs ? { deadline: Date.now() + options.deadlineMs } : {},
      (error, bytes) => {
        client.close();
        resolve(error ? { error } : { bytes: bytes! });
      },
    );
  });
}

/** The standard services' clients, from the protos their packages ship: health v1 and reflection v1. */
export function standardClients(address: string) {
  const healthProto = join(dirname(require.resolve('grpc-health-check/package.json')), 'proto/health/v1/health.proto');
  const reflectionProto = join(
    dirname(require.resolve('@grpc/reflection/package.json')),
    'build/proto/grpc/reflection/v1/reflection.proto',
  );
  const load = (file: string) =>
    loadPackageDefinition(loadSync(file, { keepCase: true, defaults: true, oneofs: true, enums: String }));
  const at = (pkg: GrpcObject, path: string) =>
    path.split('.').reduce((o, key) => (o as Record<string, unknown>)[key], pkg as unknown) as new (
      address: string,
      creds: ReturnType<typeof credentials.createInsecure>,
    ) => Client & Record<string, (...args: unknown[]) => unknown>;
  const Health = at(load(healthProto), 'grpc.health.v1.Health');
  const Reflection = at(load(reflectionProto), 'grpc.reflection.v1.ServerReflection');
  return {
    health: new Health(address, credentials.createInsecure()),
    reflection: new Reflection(address, credentials.createInsecure()),
  };
}
