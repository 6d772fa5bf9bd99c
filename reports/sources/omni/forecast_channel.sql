select * from forecast_channel
