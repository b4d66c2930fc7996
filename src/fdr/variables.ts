/**
 * The eleven template variables a client may use (product spec: "No other variable be used").
 * A template maps its own placeholder numbers to these names through `whatsappTemplateVariables`.
 */
export const TEMPLATE_VARIABLES = [
  {
    name: 'customerFirstName',
    description: 'First name of the customer, from the shipping name. Example: Ashita',
  },
  {
    name: 'storeName',
    description: 'Name of the online store (the brand), as in its URL. Example: Berrylush',
  },
  {
    name: 'uniqueOrderItemId',
    description: 'Order number given by the sales channel. Example: 171-6316191-5801930',
  },
  { name: 'noOfItemsInTheOrder', description: 'Quantity of order items included in the shipment' },
  {
    name: 'customerMobileNumber',
    description: 'Mobile number the customer gave when placing the order',
  },
  { name: 'quantityOfTheItem', description: 'Quantity of the item' },
  { name: 'productTitle', description: 'Title of the product' },
  {
    name: 'deliveryAddress',
    description: 'Delivery address the customer gave when placing the order',
  },
  {
    name: 'amountToBePaid',
    description: 'Amount payable by the customer at delivery',
  },
  { name: 'supportContactNumber', description: "The client's support contact number" },
  { name: 'supportEmailAddress', description: "The client's support email address" },
] as const;

export type TemplateVariable = (typeof TEMPLATE_VARIABLES)[number]['name'];

export const TEMPLATE_VARIABLE_NAMES: readonly TemplateVariable[] = TEMPLATE_VARIABLES.map(
  (v) => v.name,
);

export function isTemplateVariable(value: string): value is TemplateVariable {
  return (TEMPLATE_VARIABLE_NAMES as readonly string[]).includes(value);
}
