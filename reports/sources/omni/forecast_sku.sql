select * from forecast_sku
