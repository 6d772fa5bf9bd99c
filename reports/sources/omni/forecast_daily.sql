select * from forecast_daily
