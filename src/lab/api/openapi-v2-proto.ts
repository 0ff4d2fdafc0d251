/**
 * The gnostic protobuf form of an OpenAPI v2 document (`openapi.v2.Document`), which is
 * the only form kubectl's discovery client reads from /openapi/v2. The messages below are
 * the subset of google/gnostic openapiv2/OpenAPIv2.proto that our documents use, with its
 * field numbers; parsed once with protobufjs. Vendor extensions, defaults and enum values
 * travel as YAML text in `Any.yaml`, as kube-openapi writes them (JSON is valid YAML, but
 * we write YAML like the real server does).
 */
import protobuf from 'protobufjs';
import { stringify as toYaml } from 'yaml';
import type { V2Document, V2Operation, V2Schema } from './openapi-v2.js';

const PROTO = `
syntax = "proto3";
package openapi.v2;
message Any { string yaml = 2; }
message NamedAny { string name = 1; Any value = 2; }
message Info { string title = 1; string version = 2; }
message Document {
  string swagger = 1; Info info = 2; Paths paths = 8; Definitions definitions = 9;
}
message Paths { repeated NamedAny vendor_extension = 1; repeated NamedPathItem path = 2; }
message NamedPathItem { string name = 1; PathItem value = 2; }
message PathItem {
  Operation get = 2; Operation put = 3; Operation post = 4; Operation delete = 5; Operation patch = 8;
}
message Operation {
  string operation_id = 5; repeated string produces = 6; repeated string consumes = 7;
  repeated ParametersItem parameters = 8; Responses responses = 9; repeated NamedAny vendor_extension = 13;
}
message ParametersItem { oneof oneof { Parameter parameter = 1; } }
message Parameter { oneof oneof { NonBodyParameter non_body_parameter = 2; } }
message NonBodyParameter { oneof oneof { QueryParameterSubSchema query_parameter_sub_schema = 3; } }
message QueryParameterSubSchema { string in = 2; string name = 4; string type = 6; bool unique_items = 20; }
message Responses { repeated NamedResponseValue response_code = 1; }
message NamedResponseValue { string name = 1; ResponseValue value = 2; }
message ResponseValue { oneof oneof { Response response = 1; } }
message Response { string description = 1; }
message Definitions { repeated NamedSchema additional_properties = 1; }
message NamedSchema { string name = 1; Schema value = 2; }
message Properties { repeated NamedSchema additional_properties = 1; }
message ItemsItem { repeated Schema schema = 1; }
message TypeItem { repeated string value = 1; }
message AdditionalPropertiesItem { oneof oneof { Schema schema = 1; bool boolean = 2; } }
message Schema {
  string _ref = 1; string format = 2; string title = 3; string description = 4; Any default = 5;
  double multiple_of = 6; double maximum = 7; bool exclusive_maximum = 8; double minimum = 9;
  bool exclusive_minimum = 10; int64 max_length = 11; int64 min_length = 12; string pattern = 13;
  int64 max_items = 14; int64 min_items = 15; bool unique_items = 16; int64 max_properties = 17;
  int64 min_properties = 18; repeated string required = 19; repeated Any enum = 20;
  AdditionalPropertiesItem additional_properties = 21; TypeItem type = 22; ItemsItem items = 23;
  Properties properties = 25; repeated NamedAny vendor_extension = 31;
}
`;

let documentType: protobuf.Type | undefined;

/** The message type, for encoding here and decoding in tests. */
export function openApiV2DocumentType(): protobuf.Type {
  documentType ??= protobuf.parse(PROTO, { keepCase: false }).root.lookupType('openapi.v2.Document');
  return documentType;
}

export function encodeOpenApiV2(document: V2Document): Uint8Array {
  const type = openApiV2DocumentType();
  const message = {
    swagger: document.swagger,
    info: document.info,
    paths: { path: Object.entries(document.paths).map(([name, item]) => ({ name, value: pathItem(item) })) },
    definitions: { additionalProperties: Object.entries(document.definitions).map(([name, schema]) => ({ name, value: schemaMessage(schema) })) },
  };
  return type.encode(type.fromObject(message)).finish();
}

function pathItem(item: V2Document['paths'][string]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(item).map(([method, operation]) => [method, operationMessage(operation)]));
}

function operationMessage(operation: V2Operation): Record<string, unknown> {
  return {
    operationId: operation.operationId,
    produces: operation.produces,
    consumes: operation.consumes,
    parameters: operation.parameters.map((parameter) => ({
      parameter: { nonBodyParameter: { queryParameterSubSchema: { in: parameter.in, name: parameter.name, type: parameter.type, uniqueItems: parameter.uniqueItems } } },
    })),
    responses: { responseCode: Object.entries(operation.responses).map(([name, response]) => ({ name, value: { response } })) },
    vendorExtension: extensions(operation as unknown as Record<string, unknown>),
  };
}

function extensions(node: Record<string, unknown>): Array<{ name: string; value: { yaml: string } }> {
  return Object.entries(node).filter(([key]) => key.startsWith('x-')).map(([name, value]) => ({ name, value: yamlAny(value) }));
}

function yamlAny(value: unknown): { yaml: string } {
  return { yaml: toYaml(value) };
}

const NUMBERS: Array<[json: string, proto: string]> = [
  ['multipleOf', 'multipleOf'], ['maximum', 'maximum'], ['minimum', 'minimum'], ['maxLength', 'maxLength'], ['minLength', 'minLength'],
  ['maxItems', 'maxItems'], ['minItems', 'minItems'], ['maxProperties', 'maxProperties'], ['minProperties', 'minProperties'],
];

function schemaMessage(schema: V2Schema): Record<string, unknown> {
  const message: Record<string, unknown> = {};
  if (typeof schema.$ref === 'string') message.Ref = schema.$ref;
  for (const key of ['format', 'title', 'description', 'pattern'] as const) if (typeof schema[key] === 'string') message[key] = schema[key];
  for (const key of ['exclusiveMaximum', 'exclusiveMinimum', 'uniqueItems'] as const) if (typeof schema[key] === 'boolean') message[key] = schema[key];
  for (const [json, proto] of NUMBERS) if (typeof schema[json] === 'number') message[proto] = schema[json];
  if (schema.default !== undefined) message.default = yamlAny(schema.default);
  if (Array.isArray(schema.enum)) message.enum = schema.enum.map(yamlAny);
  if (Array.isArray(schema.required)) message.required = schema.required.filter((name) => typeof name === 'string');
  if (typeof schema.type === 'string') message.type = { value: [schema.type] };
  if (schema.items && typeof schema.items === 'object') message.items = { schema: [schemaMessage(schema.items as V2Schema)] };
  if (schema.properties && typeof schema.properties === 'object') {
    message.properties = { additionalProperties: Object.entries(schema.properties as Record<string, V2Schema>).map(([name, child]) => ({ name, value: schemaMessage(child) })) };
  }
  if (typeof schema.additionalProperties === 'boolean') message.additionalProperties = { boolean: schema.additionalProperties };
  else if (schema.additionalProperties && typeof schema.additionalProperties === 'object') message.additionalProperties = { schema: schemaMessage(schema.additionalProperties as V2Schema) };
  const vendor = extensions(schema);
  if (vendor.length > 0) message.vendorExtension = vendor;
  return message;
}
