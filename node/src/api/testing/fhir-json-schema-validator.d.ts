// Types for @asymmetrik/fhir-json-schema-validator (the package ships none): the FHIR R4 JSON-schema
// validator the API tests check FHIR output with.
declare module '@asymmetrik/fhir-json-schema-validator' {
  export default class JSONSchemaValidator {
    constructor(schema?: object, ajvSettings?: object);
    /** Validation errors; empty when the resource is valid. */
    validate(resource: unknown, verbose?: boolean): unknown[];
  }
}
