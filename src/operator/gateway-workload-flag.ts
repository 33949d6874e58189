/** The operator's gateway pod settings from its flag: JSON in the shape of a Datacenter's spec.gateway, judged by the same schema and rules. */
import { GatewayWorkload } from '../api/gateway-workload.ts';
import { validateValue } from '../validate/object-validator.ts';

export function parseGatewayWorkload(flag: string) {
  return (text: string): GatewayWorkload => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new Error(`${flag} must be a JSON object (the chart renders its value gateway so): ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${flag} must be a JSON object, like a Datacenter's spec.gateway`);
    const errors = validateValue(GatewayWorkload, value);
    if (errors.length > 0) throw new Error(`${flag}: ${errors.map((e) => `${e.path || '(the object)'}: ${e.message}`).join('; ')}`);
    return value as GatewayWorkload;
  };
}
